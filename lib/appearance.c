/* appearance.c - being written (placeholder) */
typedef int kyso_placeholder_appearance;

/*
 * callbacks.h - the libmilter callback table of kyso-milter.
 */
#ifndef KYSO_CALLBACKS_H
#define KYSO_CALLBACKS_H

#include <libmilter/mfapi.h>

/* callbacks_descriptor - the smfiDesc to register, named NAME. */
struct smfiDesc *callbacks_descriptor(const char *name);

#endif

/*
 * cmd-reindex.h - "kyso reindex" (see cmd-reindex.c).
 */
#ifndef KYSO_CMD_REINDEX_H
#define KYSO_CMD_REINDEX_H

/* cmd_reindex - run "kyso reindex" with ARGV[0] = "reindex".  Returns the
 * exit status: 0 done, 2 usage or store error (printed on stderr). */
int cmd_reindex(int argc, char **argv);

#endif

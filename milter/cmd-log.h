/* cmd-log.h - "kyso log": the decision records of the store, for people. */
#ifndef KYSO_CMD_LOG_H
#define KYSO_CMD_LOG_H
/* cmd_log - ARGV[0] is "log".  Returns the process exit status: 0 when
 * something was printed, 1 when nothing matched, 2 on a usage or store
 * error. */
int cmd_log(int argc, char **argv);
#endif

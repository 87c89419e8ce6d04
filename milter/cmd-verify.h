/* cmd-verify.h - "kyso verify": verify files and print results. */
#ifndef KYSO_CMD_VERIFY_H
#define KYSO_CMD_VERIFY_H
/* cmd_verify - ARGV[0] is "verify".  Returns the process exit status. */
int cmd_verify(int argc, char **argv);
#endif

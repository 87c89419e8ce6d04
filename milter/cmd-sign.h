/*
 * cmd-sign.h - "kyso sign": the organisation signature by hand.
 */
#ifndef KYSO_CMD_SIGN_H
#define KYSO_CMD_SIGN_H

/* cmd_sign - run "kyso sign" with ARGV (argv[0] is "sign"); exit status. */
int cmd_sign(int argc, char **argv);

#endif

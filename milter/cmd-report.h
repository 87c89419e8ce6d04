/* cmd-report.h - "kyso report": the yearly figures of REGULATIONS.md R15
 * from the decision records of the store. */
#ifndef KYSO_CMD_REPORT_H
#define KYSO_CMD_REPORT_H
/* cmd_report - ARGV[0] is "report".  Returns the process exit status: 0
 * when the report was written from at least one record, 1 when it was
 * written but no record was in the period and organisation (or --since is
 * in the future), 2 on a usage, store or output error. */
int cmd_report(int argc, char **argv);
#endif

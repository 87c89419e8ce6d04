/*
 * expiry.h - the certificate expiry warning (REGULATIONS R14): every
 * KeyTable certificate is checked at load and daily; within
 * CertExpiryWarning days the log warns and the văn thư addresses of the
 * key and the postmaster get a notice, at most once a day per key.
 */
#ifndef KYSO_EXPIRY_H
#define KYSO_EXPIRY_H

#include <time.h>
#include "gen.h"

/* expiry_check - check G's keys at time NOW; logs and notifies as due.
 * Never fails: a notice that cannot be sent is logged. */
void expiry_check(kyso_gen *g, time_t now);

#endif

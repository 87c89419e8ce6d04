# shellcheck shell=bash
# tests/e2e/postfix.sh - run a private, real Postfix instance on loopback for
# end-to-end tests of kyso-milter. Source it from bash; it defines pf_*
# functions and runs nothing by itself.
#
# An instance lives entirely under one directory DIR (an absolute path made
# of [A-Za-z0-9._/-] only):
#   DIR/etc      config_directory: main.cf, master.cf, lookup tables, sasl/,
#                sasldb2 (SMTP AUTH users)
#   DIR/queue    queue_directory;  DIR/data  data_directory (master.lock)
#   DIR/mail     one Maildir per recipient: DIR/mail/DOMAIN/LOCAL/
#   DIR/maillog  the whole Postfix log (maillog_file, via the postlog service)
#   DIR/port, DIR/submit-port   the ports the instance listens on
# It listens on 127.0.0.1 only: an smtpd for incoming mail (no AUTH) and a
# submission smtpd with SMTP AUTH (Cyrus SASL, sasldb) whose milter macro
# {daemon_name} is ORIGINATING. Every domain is delivered locally by
# virtual(8); nothing is relayed (unless a test adds an smtp client with
# pf_enable_smtp and routes mail to it), no DNS is used.
#
# It must never touch the system instance: no file under /etc/postfix is
# written, the system Postfix is neither needed nor started, and only
# processes of the instance under DIR are ever signalled (found by their
# MAIL_CONFIG=DIR/etc environment, or the pid in DIR/queue/pid/master.pid).
# Needs root (Postfix's master must start as root), the Debian packages
# postfix, postfix-sqlite and sasl2-bin, and python3.
#
# Every function reports its errors on stderr, prefixed "postfix.sh:", and
# returns non-zero; none calls exit, so a TAP script keeps control.

PF_SBIN=${PF_SBIN:-/usr/sbin}

# pf__say MSG... - print one diagnostic line on stderr. Never fails.
pf__say() {
  printf 'postfix.sh: %s\n' "$*" >&2
}

# pf__checkdir DIR - succeed when DIR is an absolute path that main.cf can
# hold unquoted; complain and fail otherwise. Leaves everything untouched.
pf__checkdir() {
  case "$1" in
    /*) ;;
    *) pf__say "instance directory must be absolute: '$1'"; return 1 ;;
  esac
  if [[ ! "$1" =~ ^[A-Za-z0-9._/-]+$ ]]; then
    pf__say "instance directory has unsafe characters: '$1'"; return 1
  fi
}

# pf__pc DIR ARGS... - run postconf on the instance's main.cf; its exit code.
pf__pc() {
  local dir=$1; shift
  "$PF_SBIN/postconf" -c "$dir/etc" "$@"
}

# pf__free_ports N - print N distinct TCP ports free on 127.0.0.1 right now,
# one a line. They are only likely to stay free; pf_start retries on a clash.
# Fails when python3 cannot bind.
pf__free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
    s.close()
EOF
}

# pf__listening PORT - succeed when some socket listens on 127.0.0.1:PORT
# (read from /proc/net/tcp, so no connection is made and no milter is
# called). Never fails otherwise.
pf__listening() {
  local want
  want=$(printf '0100007F:%04X' "$1")
  awk -v w="$want" '$2 == w && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp
}

# pf__write_main DIR PORT SUBMIT_PORT [MILTER] - write DIR/etc/main.cf and its
# lookup tables for a fresh instance. Fails when a file cannot be written.
pf__write_main() {
  local dir=$1 port=$2 submit=$3 milter=${4:-} uid gid
  uid=$(id -u nobody) && gid=$(id -g nobody) || return 1
  cat >"$dir/etc/main.cf" <<EOF || return 1
# main.cf of a private test instance, written by tests/e2e/postfix.sh.
# Change settings with pf_postconf, not by hand.
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
syslog_name = postfix
biff = no
readme_directory = no

# Names and networks: loopback only, no DNS, nothing relayed.
myhostname = mx.kyso.test
mydomain = kyso.test
myorigin = \$myhostname
append_dot_mydomain = no
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
relayhost =
relay_domains =
default_transport = error:5.4.4 the test instance relays nothing
local_transport = error:5.1.1 the test instance has no local(8) delivery
mydestination =
alias_maps =
alias_database =
smtpd_banner = \$myhostname ESMTP kyso-e2e

# Every domain is delivered by virtual(8), one Maildir per recipient.
virtual_mailbox_domains = regexp:$dir/etc/domains
virtual_mailbox_maps = sqlite:$dir/etc/mailboxes.cf
virtual_mailbox_base = $dir/mail
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_mailbox_limit = 0
mailbox_size_limit = 0
message_size_limit = 209715200

# Restrictions: everything from 127.0.0.1 is accepted on the incoming port;
# the submission port (master.cf) takes kyso_submission_restrictions.
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, reject
kyso_submission_restrictions = permit_sasl_authenticated, reject
smtpd_error_sleep_time = 0

# SMTP AUTH (enabled on the submission port only): Cyrus SASL, sasldb.
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $dir/etc/sasl
smtpd_sasl_security_options = noanonymous
smtpd_sasl_local_domain =

# A fast queue.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
in_flow_delay = 0
delay_warning_time = 0

# Milter.
milter_protocol = 6
milter_default_action = tempfail
milter_mail_macros = i {auth_type} {auth_authen} {auth_author}
    {mail_addr} {mail_host} {mail_mailer} {daemon_name}
smtpd_milters = $milter
non_smtpd_milters = $milter
EOF
  printf '# every domain is a virtual mailbox domain\n/./\tOK\n' >"$dir/etc/domains" || return 1
  : >"$dir/etc/empty.sqlite" || return 1
  # virtual(8) refuses $1 substitution from regexp/pcre maps, so the path is
  # computed by an SQLite query over an empty database (postfix-sqlite).
  cat >"$dir/etc/mailboxes.cf" <<EOF || return 1
# local@domain -> domain/local/ under virtual_mailbox_base (trailing / = Maildir);
# no '/' and no leading '.' in either part, so the path stays in DIR/mail.
dbpath = $dir/etc/empty.sqlite
query = SELECT '%d/%u/' WHERE instr('%u', '/') = 0 AND instr('%d', '/') = 0
  AND substr('%u', 1, 1) <> '.' AND substr('%d', 1, 1) <> '.'
EOF
}

# pf__write_master DIR PORT SUBMIT_PORT - write DIR/etc/master.cf: the two
# smtpd listeners on 127.0.0.1 and the services Postfix needs, none chrooted.
# Fails when the file cannot be written.
pf__write_master() {
  local dir=$1 port=$2 submit=$3
  cat >"$dir/etc/master.cf" <<EOF
# master.cf of a private test instance, written by tests/e2e/postfix.sh.
# service        type  private unpriv chroot wakeup maxproc command
127.0.0.1:$port  inet  n       -      n      -      -       smtpd
127.0.0.1:$submit inet n       -      n      -      -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_recipient_restrictions=\$kyso_submission_restrictions
  -o smtpd_relay_restrictions=\$kyso_submission_restrictions
  -o milter_macro_daemon_name=ORIGINATING
pickup           unix  n       -      n      60     1       pickup
cleanup          unix  n       -      n      -      0       cleanup
qmgr             unix  n       -      n      300    1       qmgr
rewrite          unix  -       -      n      -      -       trivial-rewrite
bounce           unix  -       -      n      -      0       bounce
defer            unix  -       -      n      -      0       bounce
trace            unix  -       -      n      -      0       bounce
verify           unix  -       -      n      -      1       verify
flush            unix  n       -      n      1000?  0       flush
proxymap         unix  -       -      n      -      -       proxymap
proxywrite       unix  -       -      n      -      1       proxymap
showq            unix  n       -      n      -      -       showq
error            unix  -       -      n      -      -       error
retry            unix  -       -      n      -      -       error
discard          unix  -       -      n      -      -       discard
virtual          unix  -       n      n      -      -       virtual
anvil            unix  -       -      n      -      1       anvil
scache           unix  -       -      n      -      1       scache
postlog          unix-dgram n  -      n      -      1       postlogd
EOF
}

# pf__write_sasl DIR - write the Cyrus SASL server config for smtpd and an
# empty user database readable by the postfix user. Fails on a write error.
pf__write_sasl() {
  local dir=$1
  mkdir -p "$dir/etc/sasl" || return 1
  cat >"$dir/etc/sasl/smtpd.conf" <<EOF || return 1
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $dir/etc/sasldb2
mech_list: PLAIN LOGIN
EOF
}

# pf__configure DIR PORT SUBMIT_PORT MILTER - write main.cf, master.cf, the
# SASL config (unless present: it may hold settings of a test) and the port
# files. Fails on the first write error.
pf__configure() {
  local dir=$1
  pf__write_main "$dir" "$2" "$3" "$4" && pf__write_master "$dir" "$2" "$3" || return 1
  if [ ! -f "$dir/etc/sasl/smtpd.conf" ]; then pf__write_sasl "$dir" || return 1; fi
  echo "$2" >"$dir/port" && echo "$3" >"$dir/submit-port"
}

# pf__layout DIR - create the instance's directories with the owners and
# modes Postfix insists on. DIR itself becomes root-owned, mode 0755, so that
# the postfix and nobody users can reach below it; its parents must already
# be searchable by others. Fails, saying why, on any error.
pf__layout() {
  local dir=$1 up=$1
  mkdir -p "$dir" || return 1
  while up=${up%/*}; [ -n "$up" ]; do
    case $(stat -c %A "$up") in
      ?????????[xt]) ;;
      *) pf__say "$up must be searchable by others (chmod o+x) for postfix and nobody"
         return 1 ;;
    esac
  done
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/mail" || return 1
  chown root:root "$dir" "$dir/etc" "$dir/queue" && chmod 0755 "$dir" "$dir/etc" "$dir/queue" &&
    chown postfix:postfix "$dir/data" && chmod 0700 "$dir/data" &&
    chown nobody:"$(id -gn nobody)" "$dir/mail" && chmod 0755 "$dir/mail"
}

# pf__wait_up DIR PORT SUBMIT_PORT SECONDS - wait until the master of DIR runs
# and both ports listen. Fails when SECONDS pass first or the master dies.
pf__wait_up() {
  local dir=$1 port=$2 submit=$3 deadline=$((SECONDS + $4))
  while [ "$SECONDS" -lt "$deadline" ]; do
    pf_running "$dir" || return 1
    pf__listening "$port" && pf__listening "$submit" && return 0
    sleep 0.1
  done
  return 1
}

# pf_start DIR [MILTER] - create (or recreate the configuration of) a private
# instance under DIR and start it. MILTER, when given (inet:127.0.0.1:9999,
# unix:/path), becomes smtpd_milters and non_smtpd_milters. The incoming
# port is $PF_PORT and the submission port $PF_SUBMIT_PORT when set, else
# free ports picked at random; either way they are written to DIR/port and
# DIR/submit-port (read them with pf_port and pf_submit_port; pf_start never
# changes PF_PORT). main.cf and master.cf are rewritten (pf_postconf
# changes are lost); users, mail, queue files and the log are kept.
# Returns 0 once the master runs and both ports listen (at most 20 s).
# Failure: prints why and the tail of the maillog on stderr, stops whatever
# part of the instance did start, returns 1.
pf_start() {
  local dir=${1%/} milter=${2:-} port submit out
  pf__checkdir "$dir" || return 1
  [ "$(id -u)" = 0 ] || { pf__say "pf_start needs root"; return 1; }
  [ -x "$PF_SBIN/postfix" ] ||
    { pf__say "no $PF_SBIN/postfix (apt-get install postfix)"; return 1; }
  "$PF_SBIN/postconf" -m | grep -qx sqlite ||
    { pf__say "Postfix lacks sqlite tables (apt-get install postfix-sqlite)"; return 1; }
  if pf_running "$dir"; then pf__say "an instance already runs in $dir"; return 1; fi
  pf__layout "$dir" || { pf__say "cannot lay out $dir"; return 1; }
  for _ in 1 2 3; do
    if [ -n "${PF_PORT:-}" ] && [ -n "${PF_SUBMIT_PORT:-}" ]; then
      port=$PF_PORT submit=$PF_SUBMIT_PORT
    else
      out=$(pf__free_ports 2) || { pf__say "cannot pick free ports"; return 1; }
      port=${PF_PORT:-${out%%$'\n'*}} submit=${PF_SUBMIT_PORT:-${out##*$'\n'}}
    fi
    pf__configure "$dir" "$port" "$submit" "$milter" ||
      { pf__say "cannot write the configuration under $dir"; return 1; }
    if timeout 20 "$PF_SBIN/postfix" -c "$dir/etc" start >"$dir/start.log" 2>&1 &&
      pf__wait_up "$dir" "$port" "$submit" 20; then
      return 0
    fi
    pf_stop "$dir" 2>/dev/null
    # A port taken between picking and binding: pick again, unless fixed.
    if [ -n "${PF_PORT:-}${PF_SUBMIT_PORT:-}" ] ||
      ! grep -qs 'Address already in use' "$dir/maillog" "$dir/start.log"; then
      break
    fi
  done
  pf__say "the instance in $dir did not start"
  sed 's/^/  /' "$dir/start.log" >&2
  pf__say "last lines of $dir/maillog:"
  tail -n 20 "$dir/maillog" 2>/dev/null | sed 's/^/  /' >&2
  return 1
}

# pf_port DIR / pf_submit_port DIR - print the incoming / submission port of
# the instance. Fail when the instance was never started.
pf_port() { cat "${1%/}/port"; }
pf_submit_port() { cat "${1%/}/submit-port"; }

# pf_master_pid DIR - print the pid of the instance's master when it runs.
# Fails (printing nothing) when it does not.
pf_master_pid() {
  local pid
  pid=$(awk '{ print $1; exit }' "${1%/}/queue/pid/master.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # The pid file may be stale: the process must belong to this instance.
  pf_pids "$1" | grep -qx "$pid" || return 1
  echo "$pid"
}

# pf_running DIR - succeed when the master of the instance runs.
pf_running() {
  pf_master_pid "$1" >/dev/null
}

# pf_pids DIR - print the pids of every process of the instance (the master
# and its children carry MAIL_CONFIG=DIR/etc in their environment), one a
# line. Prints nothing when none is left. Never fails.
pf_pids() {
  grep -lxzF "MAIL_CONFIG=${1%/}/etc" /proc/[0-9]*/environ 2>/dev/null |
    sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p'
  return 0
}

# pf__alive PID - succeed when process PID exists and is not a zombie.
pf__alive() {
  [ -n "$1" ] && [ -r "/proc/$1/status" ] &&
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# pf_stop DIR - stop the instance: "postfix stop" (which waits up to 5 s,
# then kills the master's process group), "postfix abort" if that failed,
# then SIGKILL to each process still carrying this instance's MAIL_CONFIG;
# usually well under 1 s, at most about 20 s. Succeeds when no process
# of the instance is left (also when none ran); fails, listing the
# survivors on stderr, otherwise. Queue, mail and log are kept.
pf_stop() {
  local dir=${1%/} deadline pid left master
  [ -d "$dir/etc" ] || return 0
  if master=$(pf_master_pid "$dir"); then
    timeout 10 "$PF_SBIN/postfix" -c "$dir/etc" stop >/dev/null 2>&1 ||
      timeout 5 "$PF_SBIN/postfix" -c "$dir/etc" abort >/dev/null 2>&1
  fi
  # Wait for the processes to go, the master included (a zombie that waits
  # to be reaped counts as gone).
  deadline=$((SECONDS + 4))
  while { [ -n "$(pf_pids "$dir")" ] || pf__alive "${master:-}"; } &&
    [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.1
  done
  for pid in $(pf_pids "$dir"); do kill -9 "$pid" 2>/dev/null || true; done
  sleep 0.2
  left=$(pf_pids "$dir")
  [ -z "$left" ] && return 0
  pf__say "processes of $dir survive: ${left//$'\n'/ }"
  return 1
}

# pf_add_user DIR USER PASSWORD - create or change an SMTP AUTH user of the
# submission port. USER is used verbatim as the SASL login and as the
# {auth_authen} the milter sees, with or without "@domain" (Cyrus takes the
# part after the last @ as the realm). Works whether or not the instance
# runs, but only after pf_start has written DIR/etc.
# Fails, saying why, when saslpasswd2 is missing or refuses.
pf_add_user() {
  local dir=${1%/} user=$2 pass=$3 db realm
  db=$dir/etc/sasldb2
  command -v saslpasswd2 >/dev/null ||
    { pf__say "no saslpasswd2 (apt-get install sasl2-bin)"; return 1; }
  # smtpd gives Cyrus $myhostname as the realm of a login without "@".
  case "$user" in
    *@*) realm=() ;;
    *) realm=(-u "$(pf__pc "$dir" -h myhostname)") || return 1 ;;
  esac
  printf '%s' "$pass" | saslpasswd2 -p -c -f "$db" "${realm[@]}" "$user" ||
    { pf__say "saslpasswd2 refused user '$user'"; return 1; }
  chown root:postfix "$db" && chmod 0640 "$db"
}

# pf_sendmail DIR ARGS... - run Postfix's sendmail command for the instance
# (/usr/sbin/sendmail -C DIR/etc ARGS...), message on stdin: the path a
# milter takes to send a notice. The mail goes through this instance's
# pickup, cleanup and non_smtpd_milters. Returns sendmail's exit status.
# Root only: for another user, postdrop would refuse DIR/etc unless
# /etc/postfix/main.cf listed it in alternate_config_directories.
pf_sendmail() {
  local dir=${1%/}; shift
  "$PF_SBIN/sendmail" -C "$dir/etc" "$@"
}

# pf_maildir DIR ADDR - print the Maildir of recipient ADDR (local@domain,
# lowercased as virtual(8) does): DIR/mail/DOMAIN/LOCAL. Never fails; the
# directory exists only once mail was delivered.
pf_maildir() {
  local addr=${2,,}
  echo "${1%/}/mail/${addr##*@}/${addr%@*}"
}

# pf__list_mail MAILDIR - print the messages of MAILDIR (new/ and cur/),
# oldest first (by modification time, then name). Never fails.
pf__list_mail() {
  find "$1/new" "$1/cur" -maxdepth 1 -type f -printf '%T@ %p\n' 2>/dev/null |
    sort -k1,1n -k2 | cut -d' ' -f2-
}

# pf_wait_mail DIR ADDR [N] [TIMEOUT] - wait until ADDR's Maildir holds at
# least N messages (default 1), for at most TIMEOUT seconds (default 20),
# then print all their paths, oldest first, and succeed. On timeout prints
# nothing on stdout, says how many arrived on stderr, and returns 1.
pf_wait_mail() {
  local dir=${1%/} addr=$2 n=${3:-1} deadline=$((SECONDS + ${4:-20})) md list count
  md=$(pf_maildir "$dir" "$addr")
  while :; do
    list=$(pf__list_mail "$md")
    count=$(printf "%s" "$list" | grep -c .) || true
    if [ "$count" -ge "$n" ]; then printf '%s\n' "$list"; return 0; fi
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.1
  done
  pf__say "pf_wait_mail: $count of $n message(s) for $addr in $md after ${4:-20} s"
  return 1
}

# pf_hold_list DIR - print the queue ids of the messages in the instance's
# hold queue (from "postqueue -j"), one a line. Prints nothing when the hold
# queue is empty. Fails when postqueue fails.
pf_hold_list() {
  local out
  out=$("$PF_SBIN/postqueue" -c "${1%/}/etc" -j) || { pf__say "postqueue -j failed"; return 1; }
  printf '%s\n' "$out" | python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        m = json.loads(line)
        if m.get("queue_name") == "hold":
            print(m["queue_id"])'
}

# pf__queue_files DIR - print the queue files that still wait for delivery
# (maildrop, incoming, active, deferred). Never fails.
pf__queue_files() {
  local q=${1%/}/queue
  find "$q/maildrop" "$q/incoming" "$q/active" "$q/deferred" -type f 2>/dev/null
}

# pf_queue_empty_wait DIR [TIMEOUT] - wait until the maildrop, incoming,
# active and deferred queues are empty (hold does not count), for at most
# TIMEOUT seconds (default 20). On timeout shows the queue (postqueue -p) on
# stderr and returns 1.
pf_queue_empty_wait() {
  local dir=${1%/} deadline=$((SECONDS + ${2:-20}))
  while [ -n "$(pf__queue_files "$dir")" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      pf__say "queue of $dir not empty after ${2:-20} s:"
      "$PF_SBIN/postqueue" -c "$dir/etc" -p >&2
      return 1
    fi
    sleep 0.1
  done
}

# pf_log DIR - print the instance's whole log (DIR/maillog). Fails when there
# is no log yet.
pf_log() {
  cat "${1%/}/maillog"
}

# pf_reload DIR - make a running instance re-read its configuration, and wait
# (at most 10 s) until the master logged that it did. Fails when the
# instance does not run or the master does not confirm in time.
pf_reload() {
  local dir=${1%/} before deadline=$((SECONDS + 10))
  pf_running "$dir" || { pf__say "no running instance in $dir"; return 1; }
  before=$(grep -c 'master.*: reload -- ' "$dir/maillog") || true
  "$PF_SBIN/postfix" -c "$dir/etc" reload >/dev/null 2>&1 || return 1
  while [ "$(grep -c 'master.*: reload -- ' "$dir/maillog")" -le "$before" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { pf__say "$dir: reload not confirmed"; return 1; }
    sleep 0.1
  done
}

# pf_postconf DIR NAME=VALUE... - change main.cf settings of the instance
# (postconf -e) and reload it when it runs, e.g.
#   pf_postconf "$d" milter_default_action=accept
#   pf_postconf "$d" kyso_submission_restrictions=permit_mynetworks
# Fails when postconf refuses or the reload fails.
pf_postconf() {
  local dir=${1%/}; shift
  pf__pc "$dir" -e "$@" || { pf__say "postconf -e $* failed"; return 1; }
  if pf_running "$dir"; then pf_reload "$dir"; fi
}

# pf_enable_smtp DIR - give instance DIR an smtp(8) client service, which
# master.cf lacks (instances deliver everything locally), and reload it when
# it runs. Needed by an instance that relays to another one; the routing
# (relayhost, default_transport=smtp, ...) is then set with pf_postconf.
# Call it after each pf_start, which rewrites master.cf; a second call
# adds nothing. Fails when master.cf cannot be written or the reload fails.
pf_enable_smtp() {
  local dir=${1%/}
  grep -q '^smtp[[:space:]]' "$dir/etc/master.cf" 2>/dev/null ||
    printf 'smtp             unix  -       -      n      -      -       smtp\n' \
      >>"$dir/etc/master.cf" || { pf__say "cannot write $dir/etc/master.cf"; return 1; }
  if pf_running "$dir"; then pf_reload "$dir"; fi
}

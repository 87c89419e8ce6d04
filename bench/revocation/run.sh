#!/bin/bash
# bench/revocation/run.sh - what online revocation costs `kyso verify`:
# the same signed PDF verified COPIES times in one process with
# --revocation none and with the default ocsp,crl (the first copy fills
# the revocation cache from a local `openssl ocsp` responder and a local
# CRL server, the others hit it), alternating ROUNDS times in the same run.
# Per-document cost is (T(2 x COPIES) - T(COPIES)) / COPIES, which takes
# process start-up and the one cold fetch out; the warm/none ratio must be
# within 1.10.  Cold-cache latency: one document per process, ocsp,crl
# minus none, median of ROUNDS (wall time).  With the build's
# tests/revocation/test-revdata, also the chain check alone, in process.
# Loopback only; results in bench/out/.
# Environment: KYSO (default build/milter/kyso), COPIES (200), ROUNDS (7).
set -eu -o pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$TOP/bench/out
K=${KYSO:-$TOP/build/milter/kyso}
COPIES=${COPIES:-200}
ROUNDS=${ROUNDS:-7}
[ -x "$K" ] || { echo "bench: no kyso at $K (set KYSO)" >&2; exit 2; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
T=$(mktemp -d /tmp/kyso-bench-rev.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PH=$(port); P1=$(port)
sh "$TOP/tests/revocation/mkrevpki.sh" "$T" "$PH"
cd "$T"
openssl ocsp -index sub-ca/index.txt -port "$P1" -rsigner sub.pem -rkey sub.key -CA sub.pem \
    -nmin 60 -ignore_err >/dev/null 2>&1 & PIDS+=($!)
python3 "$TOP/tests/revocation/revserver.py" "$T" "$PH" >/dev/null 2>&1 & PIDS+=($!)
echo "forward $P1" > ocsp-mode
openssl ocsp -issuer sub.pem -cert good.pem -no_nonce -reqout probe.der >/dev/null
for _ in $(seq 100); do
    curl -s -m 2 -o /dev/null --data-binary @probe.der "http://127.0.0.1:$P1/" && break; sleep 0.05
done
python3 "$TOP/tests/fixtures/pdfgen.py" plain plain.pdf
(cd "$TOP/tests/fixtures" && python3 pdfsign_cms.py --in "$T/plain.pdf" --out "$T/doc.pdf" \
    --cert "$T/good.pem" --key "$T/good.key" --certfile "$T/sub.pem" --new-field Bench) >/dev/null
mkdir -p a b
for i in $(seq "$COPIES"); do ln doc.pdf "a/$i.pdf"; ln doc.pdf "b/$i.pdf"; done
"$K" verify --trust-anchors root.pem doc.pdf >/dev/null || { echo "bench: doc.pdf not valid" >&2; exit 2; }

# ms CMD... - CPU time (user + system) of CMD in microseconds: steadier
# than wall time on a shared machine; the network wait of the cold fetch
# is not CPU and the cold figure below is wall time on purpose
ms() {
    python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(int((r.ru_utime + r.ru_stime) * 1e6))' "$@"
}
# wall CMD... - wall time of CMD in microseconds
wall() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 )); }
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
: > none.txt; : > warm.txt; : > cold.txt; : > cold0.txt
for r in $(seq "$ROUNDS"); do
    for mode in none warm; do
        opt=(--revocation none); [ $mode = warm ] && opt=(--revocation ocsp,crl)
        one=$(ms "$K" verify --trust-anchors root.pem "${opt[@]}" a/*.pdf)
        two=$(ms "$K" verify --trust-anchors root.pem "${opt[@]}" a/*.pdf b/*.pdf)
        echo "scale=2; ($two - $one) / $COPIES" | bc >> $mode.txt
    done
    wall "$K" verify --trust-anchors root.pem --revocation ocsp,crl doc.pdf >> cold.txt
    wall "$K" verify --trust-anchors root.pem --revocation none doc.pdf >> cold0.txt
done
N=$(median < none.txt); W=$(median < warm.txt)
C=$(median < cold.txt); C0=$(median < cold0.txt)
R=$(echo "scale=3; $W / $N" | bc)
mkdir -p "$OUT"
{
    echo "| per document (us CPU, median of $ROUNDS) | none | ocsp,crl warm | ratio |"
    echo "|---|---|---|---|"
    echo "| $COPIES copies of a signed PDF | $N | $W | $R |"
    echo
    echo "cold cache (one document per process, wall us): ocsp,crl $C, none $C0," \
         "revocation fetches $(( ${C%.*} - ${C0%.*} ))"
    D=$(dirname "$K")/../tests/revocation/test-revdata
    [ -x "$D" ] && echo "chain check in process ($D bench):" &&
        "$D" bench root.pem sub.pem good.pem 20000 | sed 's/^/    /' 
    echo "rounds none: $(tr '\n' ' ' < none.txt)"
    echo "rounds warm: $(tr '\n' ' ' < warm.txt)"
    [ "$(echo "$R <= 1.10" | bc)" = 1 ] && echo "target (warm within 10% of none): met" \
        || echo "target (warm within 10% of none): NOT met"
} | tee "$OUT/revocation.md"

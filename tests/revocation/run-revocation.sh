#!/bin/bash
# run-revocation.sh - online revocation end to end, loopback only: a PKI
# made on the spot (mkrevpki.sh) whose certificates point at local
# responders, three `openssl ocsp -port` responders (signed by the CA, by a
# delegated responder, by a stranger's key), revserver.py for CRLs and for
# bad OCSP answers (slow, garbage, huge, stale, nonce mismatch, another
# certificate), then `kyso verify --json` on signed files and the C driver
# test-revdata for embedded data, revocation_collect and the cache.
# TAP output; every process it starts is killed on exit.
set -u
SRC=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
BLD=${top_builddir:-$SRC/build}
K=${KYSO:-$BLD/milter/kyso}
DRV=$BLD/tests/revocation/test-revdata
T=$(mktemp -d /tmp/kyso-rev.XXXXXX)
P=$T/pki
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy

n=0
tap() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

PH=$(free_port); P1=$(free_port); P2=$(free_port); P3=$(free_port); PDEAD=$(free_port)
sh "$SRC/tests/revocation/mkrevpki.sh" "$P" "$PH" || { echo "Bail out! mkrevpki.sh failed"; exit 1; }
cd "$P"
responder() { # PORT SIGNER-CERT SIGNER-KEY
    openssl ocsp -index sub-ca/index.txt -port "$1" -rsigner "$2" -rkey "$3" -CA sub.pem \
        -nmin 60 -ignore_err >"$T/ocsp-$1.log" 2>&1 &
    PIDS+=($!)
}
responder "$P1" sub.pem sub.key
responder "$P2" resp.pem resp.key
responder "$P3" wrong.pem wrong.key
python3 "$SRC/tests/revocation/revserver.py" "$P" "$PH" >"$T/revserver.log" 2>&1 &
PIDS+=($!)
# readiness: a real request (openssl ocsp -port stalls on a connection
# that closes without one, so never probe it with a bare connect)
openssl ocsp -issuer sub.pem -cert good.pem -no_nonce -reqout probe.der >/dev/null
probe() {
    for _ in $(seq 100); do
        curl -s -m 2 -o /dev/null --data-binary @probe.der \
            -H "Content-Type: application/ocsp-request" "http://127.0.0.1:$1/" && return 0
        sleep 0.05
    done
    return 1
}
wait_port "$PH" || { echo "Bail out! revserver on $PH"; exit 1; }
for p in "$P1" "$P2" "$P3"; do probe "$p" || { echo "Bail out! responder on $p"; exit 1; }; done

# documents: a detached CMS per leaf, and a PDF
for l in good revoked hold unknown deadaia; do
    echo "Công văn số 1/$l" > "$l.txt"
    openssl cms -sign -binary -md sha256 -in "$l.txt" -signer "$l.pem" -inkey "$l.key" \
        -certfile sub.pem -outform DER -out "$l.txt.p7s" || echo "Bail out! cms -sign $l"
done
python3 "$SRC/tests/fixtures/pdfgen.py" plain plain.pdf
for l in good revoked; do
    (cd "$SRC/tests/fixtures" && python3 pdfsign_cms.py --in "$P/plain.pdf" --out "$P/$l.pdf" \
        --cert "$P/$l.pem" --key "$P/$l.key" --certfile "$P/sub.pem" --new-field Rev) \
        >/dev/null || echo "Bail out! pdfsign $l"
done
# canned OCSP answers
openssl ocsp -issuer sub.pem -cert good.pem -reqout req-nonce.der >/dev/null
openssl ocsp -issuer sub.pem -cert revoked.pem -no_nonce -reqout req-other.der >/dev/null
openssl ocsp -issuer sub.pem -cert good.pem -no_nonce -reqout req-good.der >/dev/null
openssl ocsp -issuer sub.pem -cert revoked.pem -no_nonce -reqout req-rev.der >/dev/null
canned() { # REQ OUT SIGNER KEY
    openssl ocsp -index sub-ca/index.txt -rsigner "$3" -rkey "$4" -CA sub.pem -nmin 60 \
        -reqin "$1" -respout "$2" >/dev/null 2>&1 || echo "Bail out! canned $2"
}
canned req-nonce.der nonce.der sub.pem sub.key
canned req-other.der other.der sub.pem sub.key
canned req-good.der emb-good.der sub.pem sub.key
canned req-rev.der emb-rev.der resp.pem resp.key
canned req-good.der emb-forged.der wrong.pem wrong.key
python3 "$SRC/tests/revocation/stale_ocsp.py" good.pem sub.pem sub.key stale.der

SUBHASH=$(openssl x509 -in sub.pem -outform DER | sha256sum | cut -c1-64)
echo "http://127.0.0.1:$PH/ocsp  http://127.0.0.1:$P1/" > t-ca
printf '# delegated responder, by issuer hash\nsha256:%s http://127.0.0.1:%s/\n' "$SUBHASH" "$P2" > t-del
echo "O=Kyso Test, CN=Rev Test Sub CA   http://127.0.0.1:$P3/" > t-wrong
echo "http://127.0.0.1:$PH/ocsp http://127.0.0.1:$PDEAD/" > t-down
echo "http://ocsp.dead.invalid/ http://127.0.0.1:$P1/" > t-dead
echo "sha256:$SUBHASH none" > t-none
echo "http://127.0.0.1:$PH/ocsp http://127.0.0.1:$PDEAD/" > t-alldead
echo "forward $P1" > ocsp-mode
echo fresh > crl-mode

# v FILE [options]: "reason|detail" of the first signature
v() {
    local f=$1; shift
    "$K" verify --json --trust-anchors root.pem "$@" "$f" 2>&1 |
        jq -r '.signatures[0].reason + "|" + (.signatures[0].detail // "")' 2>&1
}
# expect NAME REASON SUBSTRING FILE [options]
expect() {
    local name=$1 want=$2 sub=$3 got; shift 3
    got=$(v "$@")
    case $got in "$want|"*"$sub"*) tap 0 "$name" ;; *) tap 1 "$name (got: $got)" ;; esac
}
OC=(--revocation ocsp --crl root.crl.pem)      # OCSP only; the root's CRL offline

echo "# OCSP through the certificate's AIA (via revserver forwarding to openssl ocsp)"
expect "good: valid, default ocsp,crl" ok "" good.txt.p7s
expect "revoked: cert_revoked by OCSP, keyCompromise" cert_revoked "keyCompromise) by OCSP" revoked.txt.p7s "${OC[@]}"
expect "certificateHold: suspended" cert_revoked "suspended since" hold.txt.p7s "${OC[@]}"
expect "revoked after the validation time: valid (point in time)" ok "" revoked.txt.p7s "${OC[@]}" --at $(( $(date +%s) - 3600 ))
expect "hold after the validation time: valid" ok "" hold.txt.p7s "${OC[@]}" --at $(( $(date +%s) - 3600 ))
expect "responder does not know the certificate: unknown (ocsp only)" revocation_unknown "does not know" unknown.txt.p7s "${OC[@]}"
expect "... and the CRL decides with ocsp,crl" ok "" unknown.txt.p7s
expect "PDF signed by a good certificate: valid" ok "" good.pdf
expect "PDF signed by a revoked certificate: cert_revoked" cert_revoked "revoked" revoked.pdf
"$K" verify --trust-anchors root.pem revoked.txt.p7s >/dev/null 2>&1; tap $([ $? = 1 ] && echo 0 || echo 1) "kyso verify exits 1 for a revoked signer"

echo "# OCSPResponders: AIA rewrite, by hash, by subject, none"
expect "CA-signed answer, AIA rewritten to the responder" cert_revoked "by OCSP" revoked.txt.p7s "${OC[@]}" --ocsp-responders t-ca
expect "delegated responder (id-kp-OCSPSigning), by issuer hash: good" ok "" good.txt.p7s "${OC[@]}" --ocsp-responders t-del
expect "delegated responder: revoked" cert_revoked "keyCompromise" revoked.txt.p7s "${OC[@]}" --ocsp-responders t-del
expect "answer signed with the wrong key: refused, unknown" revocation_unknown "signature does not verify" good.txt.p7s "${OC[@]}" --ocsp-responders t-wrong
expect "dead AIA address rewritten to a live responder: valid" ok "" deadaia.txt.p7s "${OC[@]}" --ocsp-responders t-dead
expect "dead AIA address without the table: unknown" revocation_unknown "ocsp.dead.invalid" deadaia.txt.p7s "${OC[@]}"
expect "responder none for the issuer: unknown in ocsp mode" revocation_unknown "none for this issuer" good.txt.p7s "${OC[@]}" --ocsp-responders t-none
expect "responder none, CRL decides in ocsp,crl" ok "" good.txt.p7s --ocsp-responders t-none

echo "# OCSP failures"
expect "responder down: unknown" revocation_unknown "127.0.0.1:$PDEAD" good.txt.p7s "${OC[@]}" --ocsp-responders t-down
expect "responder down, CRL fallback: valid" ok "" good.txt.p7s --ocsp-responders t-down
echo "slow 3 $P1" > ocsp-mode
t0=$(date +%s%N)
expect "responder too slow: unknown, timed out" revocation_unknown "timed out after 400 ms" good.txt.p7s "${OC[@]}" --revocation-timeout 400
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
tap $([ "$ms" -lt 2000 ] && echo 0 || echo 1) "slow responder bounded: $ms ms for a 400 ms RevocationTimeout"
echo "file stale.der" > ocsp-mode
expect "stale answer (nextUpdate passed): unknown" revocation_unknown "stale answer" good.txt.p7s "${OC[@]}"
expect "stale answer within a 3-day OCSPTolerance: valid" ok "" good.txt.p7s "${OC[@]}" --ocsp-tolerance 259200
echo "file nonce.der" > ocsp-mode
expect "nonce mismatch: unknown" revocation_unknown "nonce does not match" good.txt.p7s "${OC[@]}"
expect "same answer without OCSPNonce: valid" ok "" good.txt.p7s "${OC[@]}" --no-ocsp-nonce
echo "file other.der" > ocsp-mode
expect "answer about another certificate: unknown" revocation_unknown "another certificate" good.txt.p7s "${OC[@]}"
echo garbage > ocsp-mode
expect "garbage answer: unknown" revocation_unknown "not an OCSP response" good.txt.p7s "${OC[@]}"
echo huge > ocsp-mode
expect "10 MB answer: refused at 64 KiB" revocation_unknown "larger than 65536 bytes" good.txt.p7s "${OC[@]}"
echo "forward $P1" > ocsp-mode

echo "# CRL distribution points"
CR=(--revocation crl)
expect "CRL fetched: good" ok "" good.txt.p7s "${CR[@]}"
expect "CRL fetched: revoked" cert_revoked "by CRL http://127.0.0.1:$PH/sub.crl" revoked.txt.p7s "${CR[@]}"
expect "CRL fetched: hold is suspended" cert_revoked "suspended" hold.txt.p7s "${CR[@]}"
for m in "expired|CRL expired" "wrongkey|signature does not verify" "big|larger than" \
         "bigchunked|larger than" "redirect|redirect to another host refused" "404|HTTP 404"; do
    echo "${m%%|*}" > crl-mode
    t0=$(date +%s%N)
    expect "CRL ${m%%|*}: unknown" revocation_unknown "${m#*|}" good.txt.p7s "${CR[@]}"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "${m%%|*}" = big ] || [ "${m%%|*}" = bigchunked ] &&
        tap $([ "$ms" -lt 3000 ] && echo 0 || echo 1) "100 MB CRL refused in $ms ms"
done
echo samehost > crl-mode
expect "redirect to the same host: followed" ok "" good.txt.p7s "${CR[@]}"
echo fresh > crl-mode
expect "CRLMaxSize 100 bytes: refused" revocation_unknown "larger than 100 bytes" good.txt.p7s "${CR[@]}" --crl-max-size 100
mv root.crl root.crl.away
expect "the CA's own CRL unreachable: unknown, names the CA" revocation_unknown "CA certificate" good.txt.p7s "${CR[@]}"
mv root.crl.away root.crl

echo "# offline: CRLs files cover the chain, no network"
echo 404 > crl-mode; echo garbage > ocsp-mode
before=$(wc -l < requests.log)
expect "CRL files: good, default mode" ok "" good.txt.p7s --crl sub.crl.pem --crl root.crl.pem
expect "CRL files: revoked" cert_revoked "by CRL of" revoked.txt.p7s --crl sub.crl.pem --crl root.crl.pem
tap $([ "$(wc -l < requests.log)" = "$before" ] && echo 0 || echo 1) "no request made when CRL files cover the chain"
expect "RevocationCheck none: no check" ok "" revoked.txt.p7s --revocation none
echo fresh > crl-mode; echo "forward $P1" > ocsp-mode

echo "# embedded validation data, revocation_collect, cache (test-revdata)"
d() { "$DRV" "$@" 2>&1; }
dexpect() { # NAME REASON SUBSTRING ARGS...
    local name=$1 want=$2 sub=$3 got; shift 3
    got=$(d "$@")
    case $got in "$want	"*"$sub"*) tap 0 "$name" ;; *) tap 1 "$name (got: $got)" ;; esac
}
DEAD=(--mode ocsp --responders t-alldead)
dexpect "embedded OCSP (good) and CRL used first, responders dead" ok "" check root.pem sub.pem good.pem "${DEAD[@]}" --ocsp emb-good.der --crl root.crl
dexpect "embedded OCSP from a delegated responder: revoked" cert_revoked "embedded OCSP answer" check root.pem sub.pem revoked.pem "${DEAD[@]}" --ocsp emb-rev.der --crl root.crl
dexpect "forged embedded OCSP does not count" revocation_unknown "embedded OCSP: answer signature does not verify" check root.pem sub.pem good.pem "${DEAD[@]}" --ocsp emb-forged.der --crl root.crl
dexpect "embedded answer about another certificate is skipped" revocation_unknown "127.0.0.1:$PDEAD" check root.pem sub.pem good.pem "${DEAD[@]}" --ocsp emb-rev.der --crl root.crl
dexpect "embedded CRLs: revoked" cert_revoked "embedded CRL" check root.pem sub.pem revoked.pem "${DEAD[@]}" --crl sub.crl --crl root.crl
dexpect "embedded CRL signed by the wrong key does not count" revocation_unknown "" check root.pem sub.pem good.pem "${DEAD[@]}" --crl sub-wrongkey.crl --crl root.crl
dexpect "embedded expired CRL made after the signature (11 days ago): covers it" ok "" check root.pem sub.pem good.pem "${DEAD[@]}" --crl sub-expired.crl --crl root.crl --at-offset -950400
dexpect "embedded CRL made before a signature of 5 days ago, still current then: good" ok "" check root.pem sub.pem good.pem "${DEAD[@]}" --crl sub-expired.crl --crl root.crl --at-offset -432000
dexpect "embedded expired CRL does not cover now" revocation_unknown "" check root.pem sub.pem good.pem "${DEAD[@]}" --crl sub-expired.crl --crl root.crl
dexpect "a revoked key with an old embedded CRL that predates the revocation, and the configured CRL: revoked" cert_revoked "" check root.pem sub.pem revoked.pem "${DEAD[@]}" --crl sub-old.crl --crl root.crl --crl-file sub.crl.pem
got=$(d collect root.pem sub.pem good.pem "$T/lt")
tap $([ "$got" = "ocsp 1 crl 1" ] && echo 0 || echo 1) "revocation_collect: OCSP for the leaf, CRL for the sub CA ($got)"
dexpect "collected answers verify offline later" ok "" check root.pem sub.pem good.pem "${DEAD[@]}" --ocsp "$T/lt-ocsp-0.der" --crl "$T/lt-crl-0.der"
got=$(d collect root.pem sub.pem revoked.pem "$T/lr")
case $got in "error "*revoked*) tap 0 "revocation_collect refuses a revoked certificate" ;; *) tap 1 "collect revoked ($got)" ;; esac
got=$(d cache root.pem sub.pem good.pem t-alldead)
case $got in "ok ok "*) tap 0 "answers cached: the second check needs no responder" ;; *) tap 1 "cache ($got)" ;; esac
echo "1..$n"

#!/bin/sh
# mkrevpki.sh DIR HTTP_PORT - the revocation tests' PKI, in DIR: EC keys
# (fast), root -> sub CA -> leaves whose AIA and CRL distribution points
# point at 127.0.0.1:HTTP_PORT (tests/revocation/revserver.py), revocations
# in the sub CA's openssl ca database (what `openssl ocsp -index` answers
# from), and the CRLs the server hands out:
#   leaves: good, revoked (keyCompromise), hold (certificateHold), unknown
#           (issued outside the database: OCSP "unknown"), deadaia (AIA at a
#           host that does not resolve, no CRL distribution point);
#   resp:   delegated OCSP responder (id-kp-OCSPSigning) issued by the sub CA;
#   wrong:  self-signed, the sub CA's name, another key (forged answers, CRLs);
#   root.crl, sub.crl (fresh), sub-expired.crl, sub-wrongkey.crl, sub-old.crl
#   (made before the revocations, current for 20 more days).
# Throw-away test material.
set -eu
D=$1; PH=$2
mkdir -p "$D"; cd "$D"
run() { "$@" >/dev/null 2>.err || { cat .err >&2; echo "mkrevpki.sh: failed: $*" >&2; exit 1; }; }
key() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
AGO=$(date -u -d '20 days ago' +%y%m%d%H%M%SZ)
LATER=$(date -u -d '2 years' +%y%m%d%H%M%SZ)
for k in root sub good revoked hold unknown deadaia resp wrong; do key $k; done

cat > ext.cnf <<CNF
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ v3_root ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_sub ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://127.0.0.1:$PH/root.crl
[ v3_leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = OCSP;URI:http://127.0.0.1:$PH/ocsp
crlDistributionPoints = URI:http://127.0.0.1:$PH/sub.crl
[ v3_deadaia ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection
authorityInfoAccess = OCSP;URI:http://ocsp.dead.invalid/
[ v3_resp ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF
ca_conf() { # NAME
    mkdir -p "$1-ca/new"; : > "$1-ca/index.txt"; echo 01 > "$1-ca/crlnumber"
    echo "unique_subject = no" > "$1-ca/index.txt.attr"
    case $1 in root) echo 1000 ;; *) echo 2000 ;; esac > "$1-ca/serial"
    cat > "$1-ca.cnf" <<CNF
[ ca ]
default_ca = c
[ c ]
dir = $D/$1-ca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = $D/$1.pem
private_key = $D/$1.key
default_md = sha256
default_crl_days = 7
policy = p
copy_extensions = none
preserve = yes
crl_extensions = crl_ext
[ p ]
commonName = supplied
organizationName = optional
[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF
    cat ext.cnf >> "$1-ca.cnf"
}
issue() { # CA NAME SUBJECT EXT
    run openssl req -new -key "$2.key" -subj "$3" -out "$2.csr" -config ext.cnf
    run openssl ca -batch -notext -config "$1-ca.cnf" -extensions "$4" \
        -startdate "$AGO" -enddate "$LATER" -in "$2.csr" -out "$2.pem"
}
ca_conf root
run openssl req -new -config ext.cnf -key root.key -subj "/CN=Rev Test Root/O=Kyso Test" \
    -out root.csr
run openssl ca -batch -notext -selfsign -config root-ca.cnf -keyfile root.key \
    -extensions v3_root -startdate "$AGO" -enddate "$LATER" -in root.csr -out root.pem
issue root sub "/CN=Rev Test Sub CA/O=Kyso Test" v3_sub
ca_conf sub
issue sub good "/CN=Rev Good/O=Kyso Test" v3_leaf
issue sub revoked "/CN=Rev Revoked/O=Kyso Test" v3_leaf
issue sub hold "/CN=Rev On Hold/O=Kyso Test" v3_leaf
issue sub deadaia "/CN=Rev Dead AIA/O=Kyso Test" v3_deadaia
issue sub resp "/CN=Rev OCSP Responder/O=Kyso Test" v3_resp
# outside the database: the responder does not know it
run openssl req -new -key unknown.key -subj "/CN=Rev Unknown/O=Kyso Test" -out unknown.csr \
    -config ext.cnf
run openssl x509 -req -in unknown.csr -CA sub.pem -CAkey sub.key -set_serial 777777 \
    -extfile ext.cnf -extensions v3_leaf -days 700 -out unknown.pem
# the forger: the sub CA's name with another key
run openssl req -new -x509 -config ext.cnf -extensions v3_resp -key wrong.key \
    -subj "/CN=Rev Test Sub CA/O=Kyso Test" -days 700 -out wrong.pem
# a CRL from before any revocation, still current for 20 days: what the
# holder of a key revoked later could embed to hide it
run openssl ca -config sub-ca.cnf -gencrl -crl_lastupdate "$(date -u -d '10 days ago' +%y%m%d%H%M%SZ)" \
    -crl_nextupdate "$(date -u -d '20 days' +%y%m%d%H%M%SZ)" -out sub-old.crl.pem
run openssl ca -config sub-ca.cnf -revoke revoked.pem -crl_reason keyCompromise
run openssl ca -config sub-ca.cnf -revoke hold.pem -crl_hold holdInstructionReject
run openssl ca -config root-ca.cnf -gencrl -out root.crl.pem
run openssl ca -config sub-ca.cnf -gencrl -out sub.crl.pem
run openssl ca -config sub-ca.cnf -gencrl -crl_lastupdate "$(date -u -d '10 days ago' +%y%m%d%H%M%SZ)" \
    -crl_nextupdate "$(date -u -d '3 days ago' +%y%m%d%H%M%SZ)" -out sub-expired.crl.pem
sed -e "s#^certificate = .*#certificate = $D/wrong.pem#" \
    -e "s#^private_key = .*#private_key = $D/wrong.key#" sub-ca.cnf > wrong-ca.cnf
run openssl ca -config wrong-ca.cnf -gencrl -out sub-wrongkey.crl.pem
for c in root sub sub-expired sub-wrongkey sub-old; do
    run openssl crl -in $c.crl.pem -outform DER -out $c.crl
done
cat sub.pem > chain.pem
rm -f ./*.csr .err

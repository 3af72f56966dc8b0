#!/usr/bin/env bash
# Test directory servers for upnsync, on loopback, started from nothing.
#
#   scripts/testdirs.sh install [SERVER...]  install the packages the servers need (as root, apt);
#                                            without SERVER, Chromium for the HTML report's tests
#                                            and Wine for the Windows build's (scripts/wine.sh) too
#   scripts/testdirs.sh start [SERVER...]    install what is missing (as root), set up, start, verify
#   scripts/testdirs.sh stop [SERVER...]     stop by PID (safe to call twice)
#   scripts/testdirs.sh status [SERVER...]   exit 0 when all are running, 3 otherwise
#   scripts/testdirs.sh restart [SERVER...]
#
# Servers: slapd (OpenLDAP with AD's attributes and AD-like size limits),
# postgres (a private PostgreSQL cluster on 127.0.0.1 for the SQL store),
# samba (a Samba AD domain controller for CORP.EXAMPLE.COM with its KDC,
# on 127.0.0.1 and ::1 at AD's fixed ports 389, 636, 3268, 3269 and 88: one
# per network namespace; run your own in `unshare --net` when another one
# runs on the machine).
# Everything lives in .testdirs/ at the repository root (UPNSYNC_TESTDIRS
# overrides it). After start, .testdirs/env holds shell-sourceable lines for
# tests (set -a; . .testdirs/env; set +a), read by internal/testenv.
#
# Settings (environment): UPNSYNC_TEST_USER_COUNT (3000), UPNSYNC_TEST_SEED
# (1), UPNSYNC_SLAPD_LDAP_PORT (1389), UPNSYNC_SLAPD_LDAPS_PORT (1636),
# UPNSYNC_POSTGRES_PORT (15432), UPNSYNC_SAMBA_USER_COUNT (3000).
#
# To add a server: write NAME_packages, NAME_start, NAME_stop,
# NAME_running, NAME_status and NAME_env functions like the slapd_* ones
# below and add NAME to SERVERS.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
TESTDIRS=${UPNSYNC_TESTDIRS:-$REPO_ROOT/.testdirs}
USER_COUNT=${UPNSYNC_TEST_USER_COUNT:-3000}
SEED=${UPNSYNC_TEST_SEED:-1}
BASE_DN=dc=corp,dc=example,dc=com
SERVERS=(slapd postgres samba)

log() { printf 'testdirs: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# ---------------------------------------------------------------- packages

# need CMD PACKAGE: prints PACKAGE when CMD is missing.
need() {
	command -v "$1" >/dev/null 2>&1 || [[ -x $1 ]] || printf '%s\n' "$2"
}

# stop_pid NAME PID SIGNAL SECONDS LAST: sends SIGNAL, waits up to SECONDS
# for the process to end, then sends LAST and gives it a second.
stop_pid() {
	local name=$1 pid=$2 sig=$3 secs=$4 last=$5 i
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "$name (pid $pid) did not stop within $secs s of SIG$sig: sending SIG$last"
	kill "-$last" "$pid" 2>/dev/null || true
	sleep 1
}

common_packages() {
	need openssl openssl
}

# browser_packages: Chromium, which the HTML report's tests drive
# (sync/report, found by internal/testenv).
browser_packages() {
	need chromium chromium
}

# wine_packages: Wine, which runs the Windows build in cmd/upnsync's
# TestWindowsBinaryUnderWine, and MinGW, which builds the one DLL Debian
# 12's Wine lacks (scripts/wine.sh).
wine_packages() {
	need wine wine
	need /usr/lib/wine/wine64 wine64
	need x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
}

# install_packages PKG...: apt-get install as root, with no daemon started
# by the packages' scripts and slapd left unconfigured.
install_packages() {
	(($# > 0)) || return 0
	if [[ $(id -u) -ne 0 ]]; then
		die "missing packages: $*; install them as root: apt-get install -y --no-install-recommends $*"
	fi
	command -v apt-get >/dev/null 2>&1 || die "missing packages: $* (and no apt-get to install them)"
	mkdir -p "$TESTDIRS"
	log "installing $* with apt-get (log: $TESTDIRS/apt.log)"
	local policy=/usr/sbin/policy-rc.d restore=keep rc=0 prc=0
	# Package scripts must not start daemons: policy-rc.d must exit 101.
	if [[ -x $policy ]]; then
		"$policy" </dev/null >/dev/null 2>&1 || prc=$?
	fi
	if ((prc != 101)); then
		if [[ -e $policy ]]; then
			mv "$policy" "$policy.upnsync-saved"
			restore=saved
		else
			restore=remove
		fi
		printf '#!/bin/sh\n# written by upnsync scripts/testdirs.sh during apt-get install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
	fi
	printf '%s\n' 'slapd slapd/no_configuration boolean true' \
		'krb5-config krb5-config/default_realm string CORP.EXAMPLE.COM' \
		'krb5-config krb5-config/add_servers_realm string CORP.EXAMPLE.COM' \
		'krb5-config krb5-config/kerberos_servers string 127.0.0.1' \
		'krb5-config krb5-config/admin_server string 127.0.0.1' |
		debconf-set-selections 2>/dev/null || true
	{
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
			{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; }
	} >"$TESTDIRS/apt.log" 2>&1 || rc=$?
	case $restore in
	saved) mv -f "$policy.upnsync-saved" "$policy" ;;
	remove) rm -f "$policy" ;;
	esac
	if ((rc != 0)); then
		tail -n 30 "$TESTDIRS/apt.log" >&2
		die "apt-get install $* failed"
	fi
}

go_cmd() {
	if command -v go >/dev/null 2>&1; then
		command -v go
	elif [[ -x /usr/local/go/bin/go ]]; then
		echo /usr/local/go/bin/go
	else
		die "Go is needed to build scripts/genusers (put go on PATH)"
	fi
}

# ---------------------------------------------------------------- test CA

# make_certs: a CA and a server certificate for loopback, reused while valid.
make_certs() {
	local ca=$TESTDIRS/ca.crt crt=$TESTDIRS/server.crt key=$TESTDIRS/server.key
	if [[ -s $ca && -s $crt && -s $key ]] &&
		openssl x509 -checkend 86400 -noout -in "$crt" >/dev/null 2>&1 &&
		openssl x509 -checkend 86400 -noout -in "$ca" >/dev/null 2>&1; then
		return 0
	fi
	log "creating a test CA and a server certificate"
	mkdir -p "$TESTDIRS"
	(
		umask 077
		cd "$TESTDIRS"
		# Positive serials (Go rejects negative ones), EC P-256 keys (fast).
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout ca.key -out ca.crt -days 3650 -set_serial "0x1$(openssl rand -hex 15)" \
			-subj "/O=upnsync tests/CN=upnsync test CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout server.key -out server.csr -subj "/O=upnsync tests/CN=dc1.corp.example.com" 2>/dev/null
		printf '%s\n' \
			"basicConstraints=critical,CA:FALSE" \
			"keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth" \
			"subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:dc1.corp.example.com" >server.ext
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -days 825 \
			-set_serial "0x1$(openssl rand -hex 15)" -extfile server.ext -out server.crt 2>/dev/null
		rm -f server.csr server.ext
		chmod 600 ca.key server.key
		chmod 644 ca.crt server.crt
	)
}

# ---------------------------------------------------------------- slapd

SLAPD_DIR=$TESTDIRS/slapd
SLAPD_LDAP_PORT=${UPNSYNC_SLAPD_LDAP_PORT:-1389}
SLAPD_LDAPS_PORT=${UPNSYNC_SLAPD_LDAPS_PORT:-1636}
SLAPD_LDAP_URL=ldap://127.0.0.1:$SLAPD_LDAP_PORT
SLAPD_LDAPS_URL=ldaps://127.0.0.1:$SLAPD_LDAPS_PORT
SLAPD_BIND_DN=cn=upnsync-reader,ou=service,$BASE_DN
SLAPD_PASSWORD_FILE=$TESTDIRS/reader.password
SLAPD_LDIF=$TESTDIRS/users.ldif
SLAPD_CSV=$TESTDIRS/octopus-users.csv

slapd_packages() {
	need /usr/sbin/slapd slapd
	need /usr/sbin/slapadd slapd
	need /usr/sbin/slappasswd slapd
	need ldapsearch ldap-utils
}

slapd_pid() {
	local pid
	[[ -s $SLAPD_DIR/run.pid ]] || return 1
	pid=$(<"$SLAPD_DIR/run.pid")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# Not some other process that reused the PID.
	[[ $(cat "/proc/$pid/comm" 2>/dev/null || echo slapd) == slapd ]] || return 1
	echo "$pid"
}

slapd_running() { slapd_pid >/dev/null; }

# slapd_search ARGS...: ldapsearch as the reader account.
slapd_search() {
	LDAPTLS_CACERT=$TESTDIRS/ca.crt LDAPTLS_REQCERT=demand \
		ldapsearch -x -o nettimeout=2 -D "$SLAPD_BIND_DN" -y "$SLAPD_PASSWORD_FILE" "$@"
}

slapd_verify() {
	slapd_search -H "$SLAPD_LDAP_URL" -b "$BASE_DN" -s base dn >/dev/null 2>&1 &&
		slapd_search -H "$SLAPD_LDAPS_URL" -b "$BASE_DN" -s base dn >/dev/null 2>&1 &&
		slapd_search -H "$SLAPD_LDAP_URL" -ZZ -b "$BASE_DN" -s base dn >/dev/null 2>&1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

slapd_config() {
	cat <<EOF
# Written by scripts/testdirs.sh: a private OpenLDAP for upnsync's tests.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include "$SCRIPT_DIR/slapd/ad.schema"

pidfile "$SLAPD_DIR/slapd.pid"
argsfile "$SLAPD_DIR/slapd.args"
modulepath /usr/lib/ldap
moduleload back_mdb

# TLS (before any database): the test CA's server certificate.
TLSCACertificateFile "$TESTDIRS/ca.crt"
TLSCertificateFile "$TESTDIRS/server.crt"
TLSCertificateKeyFile "$TESTDIRS/server.key"

database mdb
maxsize 4294967296
suffix "$BASE_DN"
rootdn "cn=admin,$BASE_DN"
directory "$SLAPD_DIR/data"
# Like AD: anonymous clients may read the rootDSE but not the domain.
require authc
# Like AD's MaxPageSize: unpaged searches stop at 1000 with code 4, paged
# ones read everything (limits do not apply to the rootdn: bind as the reader).
sizelimit size.soft=1000 size.hard=1000 size.pr=1000 size.prtotal=unlimited
index objectClass eq
index sAMAccountName,userPrincipalName eq
index objectGUID eq
index objectCategory eq

access to dn.base="" by * read
access to dn.base="cn=Subschema" by * read
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="$SLAPD_BIND_DN" read by * none
EOF
}

slapd_inputs_stamp() {
	{
		echo "users=$USER_COUNT seed=$SEED base=$BASE_DN"
		cat "$SCRIPT_DIR/genusers/main.go" "$SCRIPT_DIR/slapd/ad.schema"
		slapd_config
		sed -n '/^slapd_service_ldif()/,/^}/p' "${BASH_SOURCE[0]}"
	} | sha256sum | cut -d' ' -f1
}

slapd_service_ldif() {
	local hash
	hash=$(/usr/sbin/slappasswd -T "$SLAPD_PASSWORD_FILE")
	cat <<EOF
dn: ou=service,$BASE_DN
objectClass: top
objectClass: organizationalUnit
ou: service

dn: $SLAPD_BIND_DN
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: upnsync-reader
description: upnsync test reader: may read the domain, AD-like size limits
userPassword: $hash
EOF
}

# slapd_build: configuration and data, rebuilt only when an input changed.
slapd_build() {
	mkdir -p "$SLAPD_DIR"
	if [[ ! -s $SLAPD_PASSWORD_FILE ]]; then
		(
			umask 077
			printf '%s' "$(openssl rand -hex 18)" >"$SLAPD_PASSWORD_FILE"
		)
		rm -f "$SLAPD_DIR/stamp"
	fi
	chmod 600 "$SLAPD_PASSWORD_FILE"
	slapd_config >"$SLAPD_DIR/slapd.conf"
	local stamp
	stamp=$(slapd_inputs_stamp)
	if [[ -s $SLAPD_DIR/stamp && $(<"$SLAPD_DIR/stamp") == "$stamp" && -s $SLAPD_DIR/data/data.mdb && -s $SLAPD_LDIF ]]; then
		return 0
	fi
	log "generating $USER_COUNT users and loading them into slapd"
	local gen=$TESTDIRS/bin/genusers
	mkdir -p "$TESTDIRS/bin"
	(cd "$REPO_ROOT" && "$(go_cmd)" build -o "$gen" ./scripts/genusers)
	"$gen" -n "$USER_COUNT" -seed "$SEED" -base "$BASE_DN" -ldif "$SLAPD_LDIF" -octopus-csv "$SLAPD_CSV" 2>"$SLAPD_DIR/genusers.log" ||
		{ cat "$SLAPD_DIR/genusers.log" >&2; die "genusers failed"; }
	slapd_service_ldif >"$SLAPD_DIR/service.ldif"
	rm -rf "$SLAPD_DIR/data"
	mkdir -p "$SLAPD_DIR/data"
	if ! {
		/usr/sbin/slapadd -q -f "$SLAPD_DIR/slapd.conf" -l "$SLAPD_LDIF" &&
			/usr/sbin/slapadd -q -f "$SLAPD_DIR/slapd.conf" -l "$SLAPD_DIR/service.ldif"
	} >"$SLAPD_DIR/slapadd.log" 2>&1; then
		cat "$SLAPD_DIR/slapadd.log" >&2
		die "slapadd failed"
	fi
	echo "$stamp" >"$SLAPD_DIR/stamp"
}

slapd_start() {
	if slapd_running; then
		if [[ ! -s $SLAPD_DIR/stamp || $(<"$SLAPD_DIR/stamp") != "$(slapd_inputs_stamp)" ]]; then
			log "slapd (pid $(slapd_pid)) runs with older settings or data: restarting it"
			slapd_stop
		elif slapd_verify; then
			log "slapd is already running (pid $(slapd_pid)) and answers"
			return 0
		else
			log "slapd (pid $(slapd_pid)) does not answer: restarting it"
			slapd_stop
		fi
	fi
	make_certs
	slapd_build
	local port
	for port in "$SLAPD_LDAP_PORT" "$SLAPD_LDAPS_PORT"; do
		port_busy "$port" && die "port $port on 127.0.0.1 is taken by another program; stop it or set UPNSYNC_SLAPD_LDAP_PORT/UPNSYNC_SLAPD_LDAPS_PORT"
	done
	/usr/sbin/slapd -f "$SLAPD_DIR/slapd.conf" -h "$SLAPD_LDAP_URL/ $SLAPD_LDAPS_URL/" -d 0 \
		</dev/null >"$SLAPD_DIR/slapd.log" 2>&1 &
	local pid=$!
	echo "$pid" >"$SLAPD_DIR/run.pid"
	local deadline=$((SECONDS + 20))
	until slapd_verify; do
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$SLAPD_DIR/slapd.log" >&2
			rm -f "$SLAPD_DIR/run.pid"
			die "slapd exited at start (its output is above)"
		fi
		if ((SECONDS >= deadline)); then
			cat "$SLAPD_DIR/slapd.log" >&2
			slapd_stop
			die "slapd did not answer within 20 s (its output is above)"
		fi
		sleep 0.05
	done
	log "slapd ready (pid $pid): $SLAPD_LDAP_URL $SLAPD_LDAPS_URL, $(slapd_user_count) users"
}

slapd_stop() {
	local pid
	if ! pid=$(slapd_pid); then
		rm -f "$SLAPD_DIR/run.pid"
		return 0
	fi
	stop_pid slapd "$pid" TERM 10 KILL
	rm -f "$SLAPD_DIR/run.pid"
	log "slapd stopped"
}

slapd_user_count() {
	grep -c '^objectCategory: person$' "$SLAPD_LDIF" || true
}

slapd_status() {
	local pid
	if pid=$(slapd_pid); then
		echo "slapd: running (pid $pid) $SLAPD_LDAP_URL $SLAPD_LDAPS_URL base $BASE_DN, $(slapd_user_count) users"
	else
		echo "slapd: stopped"
		return 3
	fi
}

slapd_env() {
	envline UPNSYNC_TEST_LDAP_URL "$SLAPD_LDAP_URL"
	envline UPNSYNC_TEST_LDAPS_URL "$SLAPD_LDAPS_URL"
	envline UPNSYNC_TEST_CA_FILE "$TESTDIRS/ca.crt"
	envline UPNSYNC_TEST_BASE "$BASE_DN"
	envline UPNSYNC_TEST_BIND_DN "$SLAPD_BIND_DN"
	envline UPNSYNC_TEST_PASSWORD_FILE "$SLAPD_PASSWORD_FILE"
	envline UPNSYNC_TEST_USERS "$(slapd_user_count)"
	envline UPNSYNC_TEST_LDIF "$SLAPD_LDIF"
	envline UPNSYNC_TEST_OCTOPUS_CSV "$SLAPD_CSV"
}

# ---------------------------------------------------------------- postgres

PG_DIR=$TESTDIRS/postgres
PG_PORT=${UPNSYNC_POSTGRES_PORT:-15432}
PG_ROLE=upnsync_test
PG_DB=upnsync_test
PG_PASSWORD_FILE=$TESTDIRS/postgres.password
PG_URL="postgres://$PG_ROLE@127.0.0.1:$PG_PORT/$PG_DB?sslmode=verify-full&sslrootcert=$TESTDIRS/ca.crt"

# pg_bindir: the newest installed server's programs (Debian keeps them out of PATH).
pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [[ -n $d && -x $d/initdb ]]; then
		echo "$d"
	elif command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
	else
		return 1
	fi
}

postgres_packages() {
	pg_bindir >/dev/null || echo postgresql
	need psql postgresql-client
}

# pg_as CMD...: run a server program as the postgres account when we are
# root (initdb and postgres refuse to run as root), else as ourselves.
pg_as() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

postgres_pid() {
	local pid
	[[ -s $PG_DIR/data/postmaster.pid ]] || return 1
	pid=$(head -n 1 "$PG_DIR/data/postmaster.pid")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	[[ $(cat "/proc/$pid/comm" 2>/dev/null || echo postgres) == postgres ]] || return 1
	echo "$pid"
}

postgres_running() { postgres_pid >/dev/null; }

# pg_admin ARGS...: psql as the cluster's superuser over its private socket.
pg_admin() {
	pg_as psql -X -q -h "$PG_DIR/run" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 "$@"
}

# postgres_verify: the test role logs in over TCP with its password and TLS.
postgres_verify() {
	[[ -s $PG_DIR/pgpass ]] || return 1
	PGPASSFILE=$PG_DIR/pgpass PGCONNECT_TIMEOUT=2 \
		psql -X -q -d "$PG_URL" -c 'SELECT 1' >/dev/null 2>&1
}

postgres_build() {
	local bin
	bin=$(pg_bindir) || die "PostgreSQL is not installed (apt-get install postgresql)"
	mkdir -p "$PG_DIR"
	if [[ ! -s $PG_PASSWORD_FILE ]]; then
		(
			umask 077
			printf '%s' "$(openssl rand -hex 18)" >"$PG_PASSWORD_FILE"
		)
	fi
	chmod 600 "$PG_PASSWORD_FILE"
	(
		umask 077
		printf '127.0.0.1:%s:*:%s:%s\n' "$PG_PORT" "$PG_ROLE" "$(<"$PG_PASSWORD_FILE")" >"$PG_DIR/pgpass"
	)
	if [[ ! -s $PG_DIR/data/PG_VERSION || ! -s $PG_DIR/data/pg_hba.conf ]]; then
		log "creating a PostgreSQL cluster in $PG_DIR/data"
		rm -rf "$PG_DIR/data"
		mkdir -p "$PG_DIR/data" "$PG_DIR/run"
		[[ $(id -u) -ne 0 ]] || chown postgres: "$PG_DIR" "$PG_DIR/data" "$PG_DIR/run"
		# A locale whose collation is not byte order, as production servers
		# have: the store must not depend on the server's sort order.
		local locale=C.UTF-8
		locale -a 2>/dev/null | grep -qix 'en_US.utf8' && locale=en_US.UTF-8
		pg_as "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale="$locale" \
			>"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
		# The superuser only over the private socket; everyone else over TCP
		# with a password, as a real server would ask.
		printf '%s\n' \
			"local all postgres trust" \
			"host all all 127.0.0.1/32 scram-sha-256" \
			"host all all ::1/128 scram-sha-256" | pg_as tee "$PG_DIR/data/pg_hba.conf" >/dev/null
	fi
	# TLS from the test CA; the key must belong to the server's account.
	install -m 600 "$TESTDIRS/server.key" "$PG_DIR/data/server.key"
	install -m 644 "$TESTDIRS/server.crt" "$PG_DIR/data/server.crt"
	[[ $(id -u) -ne 0 ]] || chown postgres: "$PG_DIR/data/server.key" "$PG_DIR/data/server.crt"
}

postgres_start() {
	if postgres_running; then
		if postgres_verify; then
			log "postgres is already running (pid $(postgres_pid)) and answers"
			return 0
		fi
		log "postgres (pid $(postgres_pid)) does not answer: restarting it"
		postgres_stop
	fi
	make_certs
	postgres_build
	port_busy "$PG_PORT" && die "port $PG_PORT on 127.0.0.1 is taken by another program; stop it or set UPNSYNC_POSTGRES_PORT"
	local bin
	bin=$(pg_bindir)
	# -w waits until the server accepts connections; the server detaches,
	# its PID is the first line of postmaster.pid.
	if ! pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR/run -c ssl=on -c fsync=off -c max_connections=100" \
		start >"$PG_DIR/pg_ctl.log" 2>&1; then
		cat "$PG_DIR/pg_ctl.log" "$PG_DIR/postgres.log" >&2 2>/dev/null || true
		postgres_stop
		die "postgres did not start (its log is above)"
	fi
	# The test role (it creates a database per test) and its database. The
	# password goes through standard input, never the process list.
	local pw
	pw=$(<"$PG_PASSWORD_FILE")
	pg_admin -d postgres >"$PG_DIR/setup.log" 2>&1 <<SQL || { cat "$PG_DIR/setup.log" >&2; postgres_stop; die "cannot create the test role and database"; }
SELECT 'CREATE ROLE $PG_ROLE LOGIN CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE')
\gexec
ALTER ROLE $PG_ROLE PASSWORD '$pw';
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')
\gexec
SQL
	local deadline=$((SECONDS + 20))
	until postgres_verify; do
		if ((SECONDS >= deadline)); then
			cat "$PG_DIR/postgres.log" >&2
			postgres_stop
			die "postgres did not accept the test role within 20 s (its log is above)"
		fi
		sleep 0.1
	done
	log "postgres ready (pid $(postgres_pid)): 127.0.0.1:$PG_PORT database $PG_DB, role $PG_ROLE"
}

postgres_stop() {
	local pid
	if ! pid=$(postgres_pid); then
		return 0
	fi
	# SIGINT is PostgreSQL's fast shutdown: clients are disconnected.
	stop_pid postgres "$pid" INT 15 QUIT
	log "postgres stopped"
}

postgres_status() {
	local pid
	if pid=$(postgres_pid); then
		echo "postgres: running (pid $pid) 127.0.0.1:$PG_PORT database $PG_DB"
	else
		echo "postgres: stopped"
		return 3
	fi
}

postgres_env() {
	envline UPNSYNC_TEST_POSTGRES_URL "$PG_URL"
	envline UPNSYNC_TEST_POSTGRES_PASSWORD_FILE "$PG_PASSWORD_FILE"
}

# ---------------------------------------------------------------- samba

# A Samba AD DC: real objectGUIDs, userAccountControl, continuation
# references from the domain root, the Global Catalog and a KDC. Its ports
# are fixed, so there is one per network namespace.
SAMBA_DIR=$TESTDIRS/samba
SAMBA_DC=$SAMBA_DIR/dc
SAMBA_REALM=CORP.EXAMPLE.COM
SAMBA_NETBIOS=CORP
SAMBA_DNS=corp.example.com
SAMBA_HOST=dc1.corp.example.com
SAMBA_ALT_SUFFIX=corp.example.org
SAMBA_USER_COUNT=${UPNSYNC_SAMBA_USER_COUNT:-3000}
SAMBA_LDAP_URL=ldap://127.0.0.1
SAMBA_LDAPS_URL=ldaps://127.0.0.1
SAMBA_GC_URL=ldap://127.0.0.1:3268
SAMBA_GCS_URL=ldaps://127.0.0.1:3269
SAMBA_ADMIN=Administrator@$SAMBA_REALM
SAMBA_PASSWORD_FILE=$SAMBA_DIR/admin.password
SAMBA_KRB_USER=svc-upnsync
SAMBA_KEYTAB=$SAMBA_DIR/svc-upnsync.keytab
SAMBA_KRB5_CONF=$SAMBA_DIR/krb5.conf
SAMBA_LDIF=$SAMBA_DIR/users.ldif
SAMBA_CSV=$SAMBA_DIR/octopus-users.csv
# A least-privilege reader, as real deployments bind: an ordinary domain
# user beside svc-upnsync, denied Read on one OU and what is under it (a
# deny ACE, as an administrator sets with "Deny: Read" in the OU's security
# tab), so that tests see what such an account cannot see.
SAMBA_READER=svc-upnsync-reader
SAMBA_READER_DN=CN=$SAMBA_READER,CN=Users,$BASE_DN
SAMBA_READER_PASSWORD_FILE=$SAMBA_DIR/reader.password
SAMBA_DENIED_OU=OU=Sales,OU=Berlin,OU=People,$BASE_DN
SAMBA_PORTS=(389 636 3268 3269 88)

samba_packages() {
	need /usr/sbin/samba samba-ad-dc
	need samba-tool samba-ad-dc
	# Provisioning fails without it, and it is only a Recommends.
	[[ -d /usr/share/samba/setup ]] || echo samba-ad-provision
	need ldapadd ldap-utils
	need kinit krb5-user
	# ldapsearch -Y GSSAPI (the log's ldapsearch line for a Kerberos bind).
	compgen -G '/usr/lib/*/sasl2/libgssapiv2.so*' >/dev/null || echo libsasl2-modules-gssapi-mit
}

samba_pid() {
	local pid
	[[ -s $SAMBA_DIR/run.pid ]] || return 1
	pid=$(<"$SAMBA_DIR/run.pid")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	[[ $(cat "/proc/$pid/comm" 2>/dev/null || echo samba) == samba ]] || return 1
	echo "$pid"
}

samba_running() { samba_pid >/dev/null; }

# samba_ldap TOOL ARGS...: an OpenLDAP client as the domain's Administrator
# over ldaps, the password read from its file (never on a command line).
samba_ldap() {
	local tool=$1
	shift
	LDAPTLS_CACERT=$TESTDIRS/ca.crt LDAPTLS_REQCERT=demand \
		"$tool" -x -o nettimeout=5 -H "$SAMBA_LDAPS_URL" -D "$SAMBA_ADMIN" -y "$SAMBA_PASSWORD_FILE" "$@"
}

samba_verify() {
	[[ -s $SAMBA_PASSWORD_FILE ]] || return 1
	samba_ldap ldapsearch -b "$BASE_DN" -s base dn >/dev/null 2>&1 &&
		LDAPTLS_CACERT=$TESTDIRS/ca.crt LDAPTLS_REQCERT=demand ldapsearch -x -o nettimeout=5 -ZZ \
			-H "$SAMBA_LDAP_URL" -D "$SAMBA_ADMIN" -y "$SAMBA_PASSWORD_FILE" -b "$BASE_DN" -s base dn >/dev/null 2>&1
}

# samba_tool ARGS...: samba-tool on the private DC's own databases.
samba_tool() {
	samba-tool "$@" -s "$SAMBA_DC/etc/smb.conf"
}

samba_config() {
	local d=$SAMBA_DC
	cat <<EOF
# Written by scripts/testdirs.sh: a private Samba AD DC for upnsync's tests.
[global]
	netbios name = DC1
	realm = $SAMBA_REALM
	workgroup = $SAMBA_NETBIOS
	server role = active directory domain controller
	interfaces = lo
	bind interfaces only = yes
	server services = ldap kdc winbindd
	private dir = $d/private
	lock directory = $d
	state directory = $d/state
	cache directory = $d/cache
	binddns dir = $d/bind-dns
	pid directory = $d/run
	ncalrpc dir = $d/run/ncalrpc
	winbindd socket directory = $d/run/winbindd
	ntp signd socket directory = $d/run/ntp_signd
	log file = $SAMBA_DIR/samba-file.log
	max log size = 10000
	# As Windows DCs do: a SASL bind (Kerberos) without a signing or
	# sealing layer is accepted over TLS; simple binds over plain ldap://
	# are still refused. (Samba's default also refuses the former.)
	ldap server require strong auth = allow_sasl_over_tls
	tls enabled = yes
	tls keyfile = $SAMBA_DIR/tls/server.key
	tls certfile = $SAMBA_DIR/tls/server.crt
	tls cafile = $TESTDIRS/ca.crt
EOF
}

samba_krb5_conf() {
	cat <<EOF
# Written by scripts/testdirs.sh: the test domain's KDC on loopback.
[libdefaults]
	default_realm = $SAMBA_REALM
	dns_lookup_realm = false
	dns_lookup_kdc = false
	rdns = false
	udp_preference_limit = 1

[realms]
	$SAMBA_REALM = {
		kdc = 127.0.0.1:88
	}

[domain_realm]
	.$SAMBA_DNS = $SAMBA_REALM
	$SAMBA_DNS = $SAMBA_REALM
EOF
}

samba_inputs_stamp() {
	{
		echo "users=$SAMBA_USER_COUNT seed=$SEED base=$BASE_DN"
		cat "$SCRIPT_DIR/genusers/main.go"
		sed -n '/^samba_provision()/,/^}/p;/^samba_load()/,/^}/p' "${BASH_SOURCE[0]}"
	} | sha256sum | cut -d' ' -f1
}

samba_loaded() {
	[[ -s $SAMBA_DIR/stamp && $(<"$SAMBA_DIR/stamp") == "$(samba_inputs_stamp)" &&
		-s $SAMBA_DC/private/sam.ldb && -s $SAMBA_PASSWORD_FILE && -s $SAMBA_KEYTAB && -s $SAMBA_CSV ]]
}

# samba_provision: a new domain in $SAMBA_DC. Provisioning makes up the
# Administrator's password and prints it; it is kept in a 0600 file and
# never passed on a command line.
samba_provision() {
	log "provisioning the Samba AD domain $SAMBA_REALM (NetBIOS $SAMBA_NETBIOS, host dc1) in $SAMBA_DC"
	rm -rf "$SAMBA_DC" "$SAMBA_DIR/stamp" "$SAMBA_PASSWORD_FILE" "$SAMBA_KEYTAB"
	mkdir -p "$SAMBA_DC"
	local out=$SAMBA_DIR/provision.log
	if ! (umask 077 && samba-tool domain provision --targetdir="$SAMBA_DC" --realm="$SAMBA_REALM" \
		--domain="$SAMBA_NETBIOS" --server-role=dc --dns-backend=SAMBA_INTERNAL --host-name=dc1 \
		--host-ip=127.0.0.1 --backend-store=mdb --option="interfaces=lo" \
		--option="bind interfaces only=yes" >"$out.tmp" 2>&1); then
		sed 's/\(Admin password:\).*/\1 (hidden)/' "$out.tmp" | tail -n 30 >&2
		rm -f "$out.tmp"
		die "samba-tool domain provision failed (its output is above)"
	fi
	(
		umask 077
		sed -n 's/.*Admin password:[[:space:]]*//p' "$out.tmp" | head -n 1 | tr -d '\n' >"$SAMBA_PASSWORD_FILE"
	)
	sed 's/\(Admin password:\).*/\1 (in admin.password)/' "$out.tmp" >"$out"
	rm -f "$out.tmp"
	[[ -s $SAMBA_PASSWORD_FILE ]] || die "samba-tool domain provision printed no Admin password (see $out)"
}

# samba_load: the users (ldapadd), an alternative UPN suffix, a user moved
# to another OU, the Kerberos service account and its keytab, and the
# Octopus users export with the objectGUIDs Samba assigned.
samba_load() {
	local gen=$TESTDIRS/bin/genusers t0=$SECONDS
	mkdir -p "$TESTDIRS/bin"
	(cd "$REPO_ROOT" && "$(go_cmd)" build -o "$gen" ./scripts/genusers)
	"$gen" -samba -n "$SAMBA_USER_COUNT" -seed "$SEED" -base "$BASE_DN" -alt-suffix "$SAMBA_ALT_SUFFIX" \
		-ldif "$SAMBA_LDIF" -octopus-csv "$SAMBA_DIR/octopus-draft.csv" 2>"$SAMBA_DIR/genusers.log" ||
		{ cat "$SAMBA_DIR/genusers.log" >&2; die "genusers failed"; }
	log "loading $SAMBA_USER_COUNT users into Samba with ldapadd"
	samba_ldap ldapadd -f "$SAMBA_LDIF" >"$SAMBA_DIR/ldapadd.log" 2>&1 ||
		{ tail -n 20 "$SAMBA_DIR/ldapadd.log" >&2; die "ldapadd into Samba failed (log: $SAMBA_DIR/ldapadd.log)"; }
	# The alternative UPN suffix, as an administrator adds it in "Active
	# Directory Domains and Trusts".
	samba_ldap ldapmodify >>"$SAMBA_DIR/ldapadd.log" 2>&1 <<EOF || die "cannot add the UPN suffix $SAMBA_ALT_SUFFIX"
dn: CN=Partitions,CN=Configuration,$BASE_DN
changetype: modify
add: uPNSuffixes
uPNSuffixes: $SAMBA_ALT_SUFFIX
EOF
	# A user moved between OUs after it was created: its objectGUID stays.
	local moved_dn moved_rdn
	moved_dn=$(sed -n '/^dn: cn=[^,\\]*,ou=Sales,ou=Amsterdam,/{s/^dn: //p;q}' "$SAMBA_LDIF")
	[[ -n $moved_dn ]] || die "no user in ou=Sales,ou=Amsterdam to move in $SAMBA_LDIF"
	moved_rdn=${moved_dn%%,*}
	samba_ldap ldapmodify >>"$SAMBA_DIR/ldapadd.log" 2>&1 <<EOF || die "cannot move $moved_dn"
dn: $moved_dn
changetype: modrdn
newrdn: $moved_rdn
deleteoldrdn: 1
newsuperior: ou=Finance,ou=Berlin,ou=People,$BASE_DN
EOF
	printf '%s\n' "$moved_rdn,ou=Finance,ou=Berlin,ou=People,$BASE_DN" >"$SAMBA_DIR/moved.dn"
	# The account Kerberos tests bind as: a random password nobody knows,
	# its keys exported to a keytab.
	samba_tool user create "$SAMBA_KRB_USER" --random-password \
		--description="upnsync test reader (Kerberos keytab)" >>"$SAMBA_DIR/ldapadd.log" 2>&1 ||
		die "samba-tool user create $SAMBA_KRB_USER failed (log: $SAMBA_DIR/ldapadd.log)"
	rm -f "$SAMBA_KEYTAB"
	(umask 077 && samba_tool domain exportkeytab "$SAMBA_KEYTAB" --principal="$SAMBA_KRB_USER@$SAMBA_REALM") \
		>>"$SAMBA_DIR/ldapadd.log" 2>&1 || die "samba-tool domain exportkeytab failed (log: $SAMBA_DIR/ldapadd.log)"
	# Tests dial 127.0.0.1 (no name resolution of dc1 needed): the DC also
	# answers to that service name.
	samba_tool spn add ldap/127.0.0.1 'DC1$' >>"$SAMBA_DIR/ldapadd.log" 2>&1 ||
		die "samba-tool spn add ldap/127.0.0.1 failed (log: $SAMBA_DIR/ldapadd.log)"
	# The Octopus export, with the objectGUIDs Samba assigned: genusers
	# makes the same people again (the export is part of its random
	# sequence, so the first run wrote a draft without GUIDs).
	samba_ldap ldapsearch -LLL -o ldif-wrap=no -E pr=1000/noprompt -b "$BASE_DN" \
		'(&(objectCategory=person)(objectClass=user))' sAMAccountName objectGUID >"$SAMBA_DIR/guids.ldif" 2>&1 ||
		die "cannot read the users' objectGUIDs back from Samba"
	"$gen" -samba -n "$SAMBA_USER_COUNT" -seed "$SEED" -base "$BASE_DN" -alt-suffix "$SAMBA_ALT_SUFFIX" \
		-ldif /dev/null -guids-ldif "$SAMBA_DIR/guids.ldif" -octopus-csv "$SAMBA_CSV" 2>>"$SAMBA_DIR/genusers.log" ||
		{ cat "$SAMBA_DIR/genusers.log" >&2; die "genusers (Octopus export) failed"; }
	log "loaded Samba in $((SECONDS - t0)) s"
}

# samba_reader: the least-privilege reader and its deny ACE, on a running
# DC, whether just loaded or reused: each step is done only when missing,
# so a DC other runs share only gains them (nothing is deleted, no user
# the others count is touched). Kept out of samba_load, whose text is part
# of the stamp: adding them never makes a loaded domain be provisioned
# again.
samba_reader() {
	local sid pw
	if ! samba_ldap ldapsearch -LLL -b "$SAMBA_READER_DN" -s base dn >/dev/null 2>&1; then
		log "adding the least-privilege reader $SAMBA_READER_DN"
		(umask 077 && openssl rand -base64 18 | tr -d '\n' >"$SAMBA_READER_PASSWORD_FILE" &&
			printf 'Aa1!' >>"$SAMBA_READER_PASSWORD_FILE")
		# The password goes through standard input only (unicodePwd is
		# the quoted password in UTF-16LE), never on a command line.
		pw=$(printf '"%s"' "$(<"$SAMBA_READER_PASSWORD_FILE")" | iconv -f UTF-8 -t UTF-16LE | base64 -w0)
		samba_ldap ldapadd >>"$SAMBA_DIR/reader.log" 2>&1 <<EOF || die "cannot add $SAMBA_READER_DN (log: $SAMBA_DIR/reader.log)"
dn: $SAMBA_READER_DN
objectClass: user
sAMAccountName: $SAMBA_READER
userPrincipalName: $SAMBA_READER@${SAMBA_REALM,,}
description: upnsync test reader (least privilege, denied Read on $SAMBA_DENIED_OU)
unicodePwd:: $pw
userAccountControl: 512
EOF
	fi
	[[ -s $SAMBA_READER_PASSWORD_FILE ]] || die "$SAMBA_READER exists but $SAMBA_READER_PASSWORD_FILE does not: delete the account or provision again"
	sid=$(samba_tool user show "$SAMBA_READER" --attributes=objectSid 2>>"$SAMBA_DIR/reader.log" | sed -n 's/^objectSid: //p')
	[[ $sid == S-1-5-* ]] || die "cannot read the objectSid of $SAMBA_READER (log: $SAMBA_DIR/reader.log)"
	if ! samba_tool dsacl get --objectdn="$SAMBA_DENIED_OU" 2>>"$SAMBA_DIR/reader.log" | grep -q "(D;[A-Z]*;[A-Z]*;;;$sid)"; then
		log "denying $SAMBA_READER Read on $SAMBA_DENIED_OU and below"
		samba_tool dsacl set --objectdn="$SAMBA_DENIED_OU" --sddl="(D;OICI;GR;;;$sid)" >>"$SAMBA_DIR/reader.log" 2>&1 ||
			die "samba-tool dsacl set on $SAMBA_DENIED_OU failed (log: $SAMBA_DIR/reader.log)"
	fi
}

samba_wait_ports_free() {
	local i p busy
	for ((i = 0; i < 100; i++)); do
		busy=
		for p in "${SAMBA_PORTS[@]}"; do
			if port_busy "$p"; then
				busy=$p
				break
			fi
		done
		[[ -z $busy ]] && return 0
		sleep 0.1
	done
	return 1
}

# samba_launch: start the DC on the folder as it is and wait until it
# answers over ldaps and StartTLS; 1 (its output shown, nothing left
# running) when it does not.
samba_launch() {
	mkdir -p "$SAMBA_DIR/tls" "$SAMBA_DC/run"
	install -m 600 "$TESTDIRS/server.key" "$SAMBA_DIR/tls/server.key"
	install -m 644 "$TESTDIRS/server.crt" "$SAMBA_DIR/tls/server.crt"
	samba_config >"$SAMBA_DC/etc/smb.conf"
	samba_krb5_conf >"$SAMBA_KRB5_CONF"
	/usr/sbin/samba -s "$SAMBA_DC/etc/smb.conf" -M single -F --debug-stdout -d1 \
		</dev/null >"$SAMBA_DIR/samba.log" 2>&1 &
	local pid=$!
	echo "$pid" >"$SAMBA_DIR/run.pid"
	local deadline=$((SECONDS + 60))
	until samba_verify; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 40 "$SAMBA_DIR/samba.log" >&2
			rm -f "$SAMBA_DIR/run.pid"
			log "samba exited at start (its output is above)"
			samba_wait_ports_free || true
			return 1
		fi
		if ((SECONDS >= deadline)); then
			tail -n 40 "$SAMBA_DIR/samba.log" >&2
			log "samba did not answer within 60 s (its output is above)"
			samba_stop
			return 1
		fi
		sleep 0.1
	done
}

samba_start() {
	if samba_running; then
		if ! samba_loaded; then
			log "samba (pid $(samba_pid)) runs with older settings or data: restarting it"
			samba_stop
		elif samba_verify; then
			log "samba is already running (pid $(samba_pid)) and answers"
			samba_reader
			return 0
		else
			log "samba (pid $(samba_pid)) does not answer: restarting it"
			samba_stop
		fi
	fi
	make_certs
	local t0=$SECONDS port
	mkdir -p "$SAMBA_DIR"
	for port in "${SAMBA_PORTS[@]}"; do
		port_busy "$port" && die "port $port on 127.0.0.1 is taken (another Samba or LDAP server?): stop it, or run in a network namespace of your own: unshare --net bash -c 'ip link set lo up; scripts/test.sh'"
	done
	local fresh=0
	if ! samba_loaded; then
		samba_provision
		fresh=1
	fi
	if ! samba_launch; then
		((fresh == 0)) || die "samba did not start (its output is above)"
		# A folder that looked valid but does not start (a cut-off earlier
		# run, another Samba version): make it again.
		log "the reused Samba domain in $SAMBA_DC did not start: provisioning it again"
		samba_provision
		fresh=1
		samba_launch || die "samba did not start (its output is above)"
	fi
	local pid
	pid=$(samba_pid)
	if ((fresh)); then
		rm -f "$SAMBA_DIR/stamp"
		(samba_load) || {
			samba_stop
			die "loading the Samba domain failed (above); samba is stopped"
		}
		samba_inputs_stamp >"$SAMBA_DIR/stamp"
	fi
	(samba_reader) || {
		samba_stop
		die "setting up the least-privilege reader failed (above); samba is stopped"
	}
	log "samba ready (pid $pid) in $((SECONDS - t0)) s: $SAMBA_LDAPS_URL $SAMBA_LDAP_URL (StartTLS), realm $SAMBA_REALM, $(samba_user_count) users"
}

samba_stop() {
	local pid
	if ! pid=$(samba_pid); then
		rm -f "$SAMBA_DIR/run.pid"
		return 0
	fi
	stop_pid samba "$pid" TERM 15 KILL
	rm -f "$SAMBA_DIR/run.pid"
	# A winbindd child can hold the ports a few seconds longer.
	samba_wait_ports_free || log "warning: Samba's ports are still taken 10 s after it stopped"
	log "samba stopped"
}

samba_user_count() {
	grep -c '^objectClass: user$' "$SAMBA_LDIF" 2>/dev/null || true
}

samba_status() {
	local pid
	if pid=$(samba_pid); then
		echo "samba: running (pid $pid) $SAMBA_LDAPS_URL realm $SAMBA_REALM base $BASE_DN, $(samba_user_count) users"
	else
		echo "samba: stopped"
		return 3
	fi
}

samba_env() {
	envline UPNSYNC_TEST_SAMBA_LDAP_URL "$SAMBA_LDAP_URL"
	envline UPNSYNC_TEST_SAMBA_LDAPS_URL "$SAMBA_LDAPS_URL"
	envline UPNSYNC_TEST_SAMBA_GC_URL "$SAMBA_GC_URL"
	envline UPNSYNC_TEST_SAMBA_GCS_URL "$SAMBA_GCS_URL"
	envline UPNSYNC_TEST_SAMBA_CA_FILE "$TESTDIRS/ca.crt"
	envline UPNSYNC_TEST_SAMBA_BASE "$BASE_DN"
	envline UPNSYNC_TEST_SAMBA_REALM "$SAMBA_REALM"
	envline UPNSYNC_TEST_SAMBA_NETBIOS "$SAMBA_NETBIOS"
	envline UPNSYNC_TEST_SAMBA_HOST "$SAMBA_HOST"
	envline UPNSYNC_TEST_SAMBA_BIND_DN "$SAMBA_ADMIN"
	envline UPNSYNC_TEST_SAMBA_PASSWORD_FILE "$SAMBA_PASSWORD_FILE"
	envline UPNSYNC_TEST_SAMBA_USERS "$(samba_user_count)"
	envline UPNSYNC_TEST_SAMBA_LDIF "$SAMBA_LDIF"
	envline UPNSYNC_TEST_SAMBA_OCTOPUS_CSV "$SAMBA_CSV"
	envline UPNSYNC_TEST_SAMBA_ALT_SUFFIX "$SAMBA_ALT_SUFFIX"
	envline UPNSYNC_TEST_SAMBA_MOVED_DN "$(cat "$SAMBA_DIR/moved.dn" 2>/dev/null)"
	envline UPNSYNC_TEST_SAMBA_KRB5_CONF "$SAMBA_KRB5_CONF"
	envline UPNSYNC_TEST_SAMBA_KEYTAB "$SAMBA_KEYTAB"
	envline UPNSYNC_TEST_SAMBA_KRB_PRINCIPAL "$SAMBA_KRB_USER@$SAMBA_REALM"
	envline UPNSYNC_TEST_SAMBA_READER_DN "$SAMBA_READER_DN"
	envline UPNSYNC_TEST_SAMBA_READER_PASSWORD_FILE "$SAMBA_READER_PASSWORD_FILE"
	envline UPNSYNC_TEST_SAMBA_DENIED_OU "$SAMBA_DENIED_OU"
}

# ---------------------------------------------------------------- env file

# envline NAME VALUE: NAME='VALUE' with single quotes escaped.
envline() {
	local v=${2//\'/\'\\\'\'}
	printf "%s='%s'\n" "$1" "$v"
}

write_env() {
	local s tmp=$TESTDIRS/env.tmp any=0
	mkdir -p "$TESTDIRS"
	{
		echo "# Written by scripts/testdirs.sh; source with: set -a; . $TESTDIRS/env; set +a"
		for s in "${SERVERS[@]}"; do
			if "${s}_running"; then
				"${s}_env"
				any=1
			fi
		done
	} >"$tmp"
	if ((any)); then
		mv -f "$tmp" "$TESTDIRS/env"
	else
		rm -f "$tmp" "$TESTDIRS/env"
	fi
}

# ---------------------------------------------------------------- main

usage() {
	sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

check_servers() {
	local s
	for s in "$@"; do
		[[ " ${SERVERS[*]} " == *" $s "* ]] || die "unknown server $s (known: ${SERVERS[*]})"
	done
}

servers_from_args() {
	if (($# == 0)); then
		printf '%s\n' "${SERVERS[@]}"
	else
		printf '%s\n' "$@"
	fi
}

# cmd_install installs the packages the servers need, without starting them.
cmd_install() {
	local servers s missing
	mapfile -t servers < <(servers_from_args "$@")
	mapfile -t missing < <(
		{
			common_packages
			(($# > 0)) || browser_packages
			(($# > 0)) || wine_packages
			for s in "${servers[@]}"; do "${s}_packages"; done
		} | sort -u
	)
	install_packages "${missing[@]}"
}

cmd_start() {
	local servers s
	mapfile -t servers < <(servers_from_args "$@")
	cmd_install "$@"
	go_cmd >/dev/null
	for s in "${servers[@]}"; do "${s}_start"; done
	write_env
}

cmd_stop() {
	local servers s
	mapfile -t servers < <(servers_from_args "$@")
	for s in "${servers[@]}"; do "${s}_stop"; done
	write_env
}

cmd_status() {
	local servers s rc=0
	mapfile -t servers < <(servers_from_args "$@")
	for s in "${servers[@]}"; do "${s}_status" || rc=3; done
	return $rc
}

main() {
	(($# >= 1)) || usage
	local cmd=$1
	shift
	check_servers "$@"
	case $cmd in
	install) cmd_install "$@" ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	restart)
		cmd_stop "$@"
		cmd_start "$@"
		;;
	status) cmd_status "$@" ;;
	*) usage ;;
	esac
}

# Run unless sourced (tests source it to call single functions).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	main "$@"
fi

#!/bin/bash
# A throw-away Ceph cluster for the storage-s3 tests: 1 mon, 1 BlueStore OSD
# on a sparse file, radosgw (beast) on 127.0.0.1, no mgr; everything under
# one folder, nothing in /etc/ceph or /var/lib/ceph. It installs nothing:
# the Debian packages ceph-mon ceph-osd radosgw ceph-common must be there.
#
#   ceph_rgw.sh check             exit 0 when the packages are installed
#   ceph_rgw.sh up BASE           start; writes BASE/env (RGW_ENDPOINT, RGW_PORT,
#                                 S3_ACCESS, S3_SECRET, RGW_BASE) for tests to source
#   ceph_rgw.sh gateway BASE NAME start one more gateway client.rgw.NAME on a free
#                                 port; prints its endpoint
#   ceph_rgw.sh kill BASE NAME    SIGKILL gateway client.rgw.NAME (a crash)
#   ceph_rgw.sh restart BASE NAME start gateway NAME again on its port
#   ceph_rgw.sh bucket BASE NAME  create bucket NAME
#   ceph_rgw.sh down BASE         stop everything (SIGKILL: the data is thrown away)
#
# The recipe and its reasons are in shared/docs/ceph-rgw-for-tests.md.
set -euo pipefail

CEPH_BINS="ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool"

free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# alive = exists and not a zombie (daemons are re-parented to PID 1, which may reap late)
alive_p() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

wait_http()
{
	local url=$1 i
	for i in $(seq 1 240); do
		curl -s -o /dev/null --max-time 2 "$url" && return 0
		sleep 0.25
	done
	return 1
}

cmd_check()
{
	local b
	for b in $CEPH_BINS; do
		command -v "$b" >/dev/null 2>&1 || { echo "missing $b"; return 1; }
	done
}

cmd_up()
{
	local BASE=$1 MON_PORT RGW_PORT S3_ACCESS S3_SECRET FSID C OSD_UUID OSD_SECRET OSD_ID i
	MON_PORT=$(free_port)
	RGW_PORT=$(free_port)
	S3_ACCESS=TESTACCESSKEY0000001
	S3_SECRET=testsecretkey0000000000000000000000000001
	mkdir -p "$BASE"/{run,log,crash,mon.a,osd.0,rgw.a}
	BASE=$(cd "$BASE" && pwd)
	FSID=$(cat /proc/sys/kernel/random/uuid)
	cat >"$BASE/ceph.conf" <<EOF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:$MON_PORT]
mon_initial_members = a
ms_bind_ipv6 = false
ms_bind_msgr1 = false
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $BASE/keyring
run_dir = $BASE/run
admin_socket = $BASE/run/\$name.asok
pid_file = $BASE/run/\$name.pid
log_file = $BASE/log/\$name.log
crash_dir = $BASE/crash
exporter_sock_dir = $BASE/run
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
osd_crush_chooseleaf_type = 0
mon_warn_on_insecure_global_id_reclaim_allowed = false

[mon]
mon_data = $BASE/mon.\$id
mon_cluster_log_file = $BASE/log/cluster.log
mon_allow_pool_delete = true
mon_data_avail_warn = 2
mon_data_avail_crit = 1
# RGW's first start issues ~14 pool commands, each otherwise waiting 1 s
paxos_propose_interval = 0.05
paxos_min_wait = 0.01

[osd]
osd_data = $BASE/osd.\$id
keyring = $BASE/osd.\$id/keyring
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = 21474836480
bluestore_block_db_create = false
bluestore_block_wal_create = false
bluestore_fsck_on_mkfs = false
bluestore_fsck_on_mount = false
osd_memory_target = 1073741824
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 1

[client.rgw.a]
# without tcp_nodelay, every answer on a kept-alive connection waits ~40 ms
# (Nagle against delayed ACKs): clients that reuse connections crawl
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw_data = $BASE/rgw.a
rgw_thread_pool_size = 64
rgw_gc_obj_min_wait = 30
rgw_gc_processor_period = 30
EOF
	C="-c $BASE/ceph.conf"
	ceph-authtool --create-keyring "$BASE/mon.a.seed" --gen-key -n mon. --cap mon 'allow *' >/dev/null
	ceph-authtool --create-keyring "$BASE/keyring" --gen-key -n client.admin \
		--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
	ceph-authtool "$BASE/mon.a.seed" --import-keyring "$BASE/keyring" >/dev/null
	monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$BASE/monmap" >/dev/null
	ceph-mon $C --mkfs -i a --monmap "$BASE/monmap" --keyring "$BASE/mon.a.seed"
	ceph-mon $C -i a
	ceph $C --connect-timeout 20 -s >/dev/null
	OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
	OSD_SECRET=$(ceph-authtool --gen-print-key)
	echo "{\"cephx_secret\": \"$OSD_SECRET\"}" >"$BASE/osd.0/new.json"
	OSD_ID=$(ceph $C --connect-timeout 20 osd new "$OSD_UUID" -i "$BASE/osd.0/new.json")
	rm -f "$BASE/osd.0/new.json"
	[ "$OSD_ID" = 0 ] || { echo "unexpected osd id $OSD_ID" >&2; return 1; }
	# ceph-osd --mkfs --key does not write the keyring itself
	printf '[osd.0]\n\tkey = %s\n' "$OSD_SECRET" >"$BASE/osd.0/keyring"
	ceph-osd $C -i 0 --mkfs --key "$OSD_SECRET" --osd-uuid "$OSD_UUID" >"$BASE/log/osd.0.mkfs.log" 2>&1 ||
		{ cat "$BASE/log/osd.0.mkfs.log" >&2; return 1; }
	ceph-osd $C -i 0
	for i in $(seq 1 120); do
		ceph $C --connect-timeout 20 osd dump 2>/dev/null | grep -q '^osd.0 up' && break
		sleep 0.5
	done
	ceph $C --connect-timeout 20 osd dump | grep -q '^osd.0 up' || { echo "osd.0 not up" >&2; return 1; }
	ceph $C --connect-timeout 20 auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' \
		mgr 'allow rw' >>"$BASE/keyring"
	radosgw $C -n client.rgw.a
	wait_http "http://127.0.0.1:$RGW_PORT/" || { echo "rgw not answering" >&2; return 1; }
	radosgw-admin $C user create --uid=test --display-name="test user" \
		--access-key="$S3_ACCESS" --secret-key="$S3_SECRET" >/dev/null
	cat >"$BASE/env" <<EOF
RGW_BASE=$BASE
RGW_PORT=$RGW_PORT
RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
S3_ACCESS=$S3_ACCESS
S3_SECRET=$S3_SECRET
EOF
}

cmd_gateway()
{
	local BASE=$1 name=$2 port C
	C="-c $BASE/ceph.conf"
	port=$(free_port)
	mkdir -p "$BASE/rgw.$name"
	printf '\n[client.rgw.%s]\nrgw_frontends = beast endpoint=127.0.0.1:%s tcp_nodelay=1\nrgw_data = %s\n' \
		"$name" "$port" "$BASE/rgw.$name" >>"$BASE/ceph.conf"
	ceph $C --connect-timeout 20 auth get-or-create "client.rgw.$name" mon 'allow rw' \
		osd 'allow rwx' mgr 'allow rw' >>"$BASE/keyring"
	radosgw $C -n "client.rgw.$name"
	wait_http "http://127.0.0.1:$port/" || { echo "rgw $name not answering" >&2; return 1; }
	echo "http://127.0.0.1:$port"
}

cmd_kill()
{
	local BASE=$1 name=$2 pid i
	pid=$(cat "$BASE/run/client.rgw.$name.pid" 2>/dev/null) || return 0
	kill -KILL "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do alive_p "$pid" || break; sleep 0.05; done
	rm -f "$BASE/run/client.rgw.$name.pid"
}

cmd_restart()
{
	local BASE=$1 name=$2 port
	port=$(sed -n "/^\[client.rgw.$name\]/,/^\[/s/.*endpoint=127.0.0.1:\([0-9]*\).*/\1/p" \
		"$BASE/ceph.conf" | head -n1)
	radosgw -c "$BASE/ceph.conf" -n "client.rgw.$name"
	wait_http "http://127.0.0.1:$port/" || { echo "rgw $name not answering" >&2; return 1; }
}

cmd_bucket()
{
	local BASE=$1 name=$2 code
	# shellcheck disable=SC1091
	. "$BASE/env"
	code=$(curl -s -o "$BASE/bucket.out" -w '%{http_code}' -X PUT \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS:$S3_SECRET" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$RGW_ENDPOINT/$name")
	[ "$code" = 200 ] || { echo "create bucket $name: HTTP $code" >&2; cat "$BASE/bucket.out" >&2; return 1; }
}

cmd_down()
{
	local BASE=$1 f pid pids=() i alive
	[ -d "$BASE/run" ] || return 0
	for f in "$BASE"/run/client.rgw.*.pid "$BASE/run/osd.0.pid" "$BASE/run/mon.a.pid"; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill -KILL "$pid" 2>/dev/null && pids+=("$pid")
	done
	for i in $(seq 1 200); do
		alive=0
		for pid in "${pids[@]}"; do alive_p "$pid" && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.05
	done
	rm -rf "$BASE"
}

cmd=${1:-}
shift || true
case $cmd in
check) cmd_check ;;
up) cmd_up "${1:?base dir}" ;;
gateway) cmd_gateway "${1:?base dir}" "${2:?name}" ;;
kill) cmd_kill "${1:?base dir}" "${2:?name}" ;;
restart) cmd_restart "${1:?base dir}" "${2:?name}" ;;
bucket) cmd_bucket "${1:?base dir}" "${2:?bucket}" ;;
down) cmd_down "${1:?base dir}" ;;
*) echo "usage: $0 check|up|gateway|kill|restart|bucket|down ..." >&2; exit 2 ;;
esac

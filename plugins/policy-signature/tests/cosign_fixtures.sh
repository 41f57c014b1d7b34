# shellcheck shell=bash
# cosign_fixtures.sh - cosign-format signatures made with openssl and curl,
# for the policy-signature integration tests (sourced after lib.sh).
#
# What cosign writes, byte for byte where it matters: a simplesigning
# payload, its signature (base64 DER for ECDSA and RSA, raw for Ed25519) in
# the layer annotation dev.cosignproject.cosign/signature, the layers in an
# OCI manifest tagged sha256-<hex>.sig in the image's repository, or pushed
# as a referrer whose subject is the image. Every function talks to
# $BERTH_URL with plain HTTP.

SIG_ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json'
SIG_DIR=$TEST_TMP/sig
mkdir -p "$SIG_DIR"

# key_gen NAME KIND: $SIG_DIR/NAME.pem (private) and NAME.pub; KIND is
# p256, p384, ed25519 or rsa.
key_gen()
{
	local name=$1 kind=$2
	case $kind in
	p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$SIG_DIR/$name.pem" ;;
	p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$SIG_DIR/$name.pem" ;;
	ed25519) openssl genpkey -algorithm ed25519 -out "$SIG_DIR/$name.pem" ;;
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$SIG_DIR/$name.pem" ;;
	esac 2>/dev/null
	openssl pkey -in "$SIG_DIR/$name.pem" -pubout -out "$SIG_DIR/$name.pub"
	echo "$kind" >"$SIG_DIR/$name.kind"
}

# sign_bytes NAME FILE: the base64 signature of FILE with key NAME.
sign_bytes()
{
	local name=$1 file=$2 out
	out=$(mktemp "$SIG_DIR/sigbytes.XXXXXX")
	if [ "$(cat "$SIG_DIR/$name.kind")" = ed25519 ]; then
		openssl pkeyutl -sign -inkey "$SIG_DIR/$name.pem" -rawin -in "$file" -out "$out"
	else
		openssl dgst -sha256 -sign "$SIG_DIR/$name.pem" -out "$out" "$file"
	fi
	base64 -w0 "$out"
	rm -f "$out"
}

# upload_blob REPO FILE: pushes FILE, prints its digest.
upload_blob()
{
	local repo=$1 file=$2 d loc
	d=$(sha256_digest "$file")
	loc=$(curl -sf -X POST -D - -o /dev/null "$BERTH_URL/v2/$repo/blobs/uploads/" |
		awk -F': ' 'tolower($1)=="location"{print $2}' | tr -d '\r')
	case $loc in /*) loc=$BERTH_URL$loc ;; esac
	case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
	curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$file" \
		"${loc}digest=$d" >/dev/null || fail "cannot upload $file to $repo"
	echo "$d"
}

# payload_file DIGEST IDENTITY: a cosign payload naming DIGEST; prints its path.
payload_file()
{
	local f
	f=$(mktemp "$SIG_DIR/payload.XXXXXX")
	printf '{"critical":{"identity":{"docker-reference":"%s"},"image":{"docker-manifest-digest":"%s"},"type":"cosign container image signature"},"optional":null}' \
		"$2" "$1" >"$f"
	echo "$f"
}

# layer_json REPO PAYLOAD SIG: one simplesigning layer (uploads PAYLOAD).
layer_json()
{
	local d s
	d=$(upload_blob "$1" "$2")
	s=$(stat -c %s "$2")
	printf '{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":%d,"digest":"%s","annotations":{"dev.cosignproject.cosign/signature":"%s"}}' \
		"$s" "$d" "$3"
}

# sig_manifest_json REPO LAYER_JSON... [-- SUBJECT_DIGEST ARTIFACT_TYPE]:
# prints the manifest's file path. The subject's size is read from the blob
# endpoint, which no pull gate guards.
sig_manifest_json()
{
	local repo=$1 layers="" cfg cd cs subject="" f
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		layers="${layers:+$layers,}$1"
		shift
	done
	cfg=$(mktemp "$SIG_DIR/config.XXXXXX")
	printf '{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":[]}}' >"$cfg"
	cd=$(upload_blob "$repo" "$cfg")
	cs=$(stat -c %s "$cfg")
	if [ "${1:-}" = -- ]; then
		subject=$(printf ',"artifactType":"%s","subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}' \
			"$3" "$2" "$(curl -sfI "$BERTH_URL/v2/$repo/blobs/$2" |
				awk -F': ' 'tolower($1)=="content-length"{print $2}' | tr -d '\r')")
	fi
	f=$(mktemp "$SIG_DIR/manifest.XXXXXX")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":%d,"digest":"%s"},"layers":[%s]%s}' \
		"$cs" "$cd" "$layers" "$subject" >"$f"
	echo "$f"
}

# put_manifest REPO REF FILE: prints the HTTP status.
put_manifest()
{
	curl -s -o /dev/null -w '%{http_code}' -X PUT \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		--data-binary @"$3" "$BERTH_URL/v2/$1/manifests/$2"
}

# sign REPO DIGEST KEY [IDENTITY]: the usual signature: one layer under the
# .sig tag (replacing what was there).
sign()
{
	local repo=$1 dig=$2 key=$3 id=${4:-$BERTH_ADDR/$1} p m
	p=$(payload_file "$dig" "$id")
	m=$(sig_manifest_json "$repo" "$(layer_json "$repo" "$p" "$(sign_bytes "$key" "$p")")")
	[ "$(put_manifest "$repo" "$(echo "$dig" | tr : -).sig" "$m")" = 201 ] ||
		fail "cannot push the signature of $repo@$dig"
}

# sign_referrer REPO DIGEST KEY: the signature as an OCI 1.1 referrer
# (cosign --registry-referrers-mode=oci-1-1), no .sig tag.
sign_referrer()
{
	local repo=$1 dig=$2 key=$3 p m
	p=$(payload_file "$dig" "$BERTH_ADDR/$repo")
	m=$(sig_manifest_json "$repo" "$(layer_json "$repo" "$p" "$(sign_bytes "$key" "$p")")" \
		-- "$dig" application/vnd.dev.cosign.artifact.sig.v1+json)
	[ "$(put_manifest "$repo" "$(sha256_digest "$m")" "$m")" = 201 ] ||
		fail "cannot push the referrer signature of $repo@$dig"
}

# sign_bundle REPO DIGEST KEY: a Sigstore bundle (DSSE envelope of an
# in-toto statement naming DIGEST) pushed as a referrer. The bundle's file
# is left in SIG_LAST_BUNDLE.
sign_bundle()
{
	local repo=$1 dig=$2 key=$3 st pae bf ld ls m ptype=application/vnd.in-toto+json
	st=$(mktemp "$SIG_DIR/statement.XXXXXX")
	printf '{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"%s","digest":{"sha256":"%s"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}' \
		"$BERTH_ADDR/$repo" "${dig#sha256:}" >"$st"
	pae=$(mktemp "$SIG_DIR/pae.XXXXXX")
	printf 'DSSEv1 %d %s %d ' "${#ptype}" "$ptype" "$(stat -c %s "$st")" >"$pae"
	cat "$st" >>"$pae"
	bf=$(mktemp "$SIG_DIR/bundle.XXXXXX")
	# shellcheck disable=SC2034 # read by the tests that source this file
	SIG_LAST_BUNDLE=$bf
	printf '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"test"}},"dsseEnvelope":{"payload":"%s","payloadType":"%s","signatures":[{"sig":"%s"}]}}' \
		"$(base64 -w0 "$st")" "$ptype" "$(sign_bytes "$key" "$pae")" >"$bf"
	ld=$(upload_blob "$repo" "$bf")
	ls=$(stat -c %s "$bf")
	m=$(sig_manifest_json "$repo" \
		"$(printf '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":%d,"digest":"%s"}' "$ls" "$ld")" \
		-- "$dig" application/vnd.dev.sigstore.bundle.v0.3+json)
	[ "$(put_manifest "$repo" "$(sha256_digest "$m")" "$m")" = 201 ] ||
		fail "cannot push the bundle of $repo@$dig"
}

# pull_status METHOD REPO REF [CURL ARGS...]: the HTTP status of a manifest GET or HEAD.
pull_status()
{
	http "$1" "$BERTH_URL/v2/$2/manifests/$3" -H "$SIG_ACCEPT" "${@:4}"
}

# error_code / error_message: of the last http body.
error_code()
{
	jq -r '.errors[0].code' "$HTTP_BODY" 2>/dev/null
}

error_message()
{
	jq -r '.errors[0].message' "$HTTP_BODY" 2>/dev/null
}

"""Fixed benchmark data: the same bytes on every run and every machine.

Content comes from AES-128-CTR over zeros with a key derived from a seed
(openssl enc): incompressible like real layers, fast to make, and identical
for the same seed. Layers are uncompressed tar files holding one such file.
The data is cached in a directory and remade only when a size changes.
"""
import hashlib
import json
import os
import shutil
import subprocess
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MIB = 1024 * 1024


def stream(seed, size):
    """A process whose stdout yields size deterministic bytes for seed."""
    key = hashlib.sha256(f"berth-bench:{seed}".encode()).hexdigest()[:32]
    return subprocess.Popen(
        f"openssl enc -aes-128-ctr -K {key} -iv 0 -nosalt -in /dev/zero 2>/dev/null"
        f" | head -c {size}", shell=True, stdout=subprocess.PIPE)


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MIB)
            if not b:
                break
            h.update(b)
    return "sha256:" + h.hexdigest()


def write_raw(path, seed, size):
    p = stream(seed, size)
    with open(path + ".part", "wb") as f:
        shutil.copyfileobj(p.stdout, f, 4 * MIB)
    if p.wait() != 0 or os.path.getsize(path + ".part") != size:
        raise RuntimeError(f"cannot make {path}")
    os.rename(path + ".part", path)


def write_layer(path, seed, size):
    """An uncompressed tar with one file of size deterministic bytes."""
    p = stream(seed, size)
    info = tarfile.TarInfo(f"data/{seed}.bin")
    info.size, info.mtime, info.mode = size, 0, 0o644
    with tarfile.open(path + ".part", "w", format=tarfile.USTAR_FORMAT) as t:
        t.addfile(info, p.stdout)
    if p.wait() != 0:
        raise RuntimeError(f"cannot make {path}")
    os.rename(path + ".part", path)


def canonical(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


class Image:
    """An OCI image: config and manifest bytes plus layer files."""

    def __init__(self, layers):
        self.layers = layers            # [(path, digest, size)]
        config = {
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [d for _, d, _ in layers]},
            "config": {},
        }
        self.config = canonical(config)
        self.config_digest = "sha256:" + hashlib.sha256(self.config).hexdigest()
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": self.config_digest,
                       "size": len(self.config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s}
                       for _, d, s in layers],
        }
        self.manifest = canonical(manifest)
        self.digest = "sha256:" + hashlib.sha256(self.manifest).hexdigest()


def make_layers(cache, prefix, seeds, size):
    out = []
    for seed in seeds:
        path = os.path.join(cache, f"{prefix}-{seed}-{size}.tar")
        meta = path + ".digest"
        if not (os.path.exists(path) and os.path.exists(meta)):
            write_layer(path, seed, size)
            with open(meta, "w") as f:
                f.write(file_digest(path))
        with open(meta) as f:
            out.append((path, f.read().strip(), os.path.getsize(path)))
    return out


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# --- OCI image layouts (what skopeo copies from) ---------------------------

def oci_layout(path, images):
    """An OCI image layout holding images ({tag: Image})."""
    shutil.rmtree(path, ignore_errors=True)
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "manifests": []}
    for tag, img in images.items():
        for src, digest, _ in img.layers:
            dst = os.path.join(blobs, digest[7:])
            if not os.path.exists(dst):
                _link_or_copy(src, dst)
        for data, digest in ((img.config, img.config_digest), (img.manifest, img.digest)):
            with open(os.path.join(blobs, digest[7:]), "wb") as f:
                f.write(data)
        index["manifests"].append({
            "mediaType": OCI_MANIFEST, "digest": img.digest, "size": len(img.manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag}})
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump(index, f)


# --- the registry storage layout (what both registries serve) --------------

class Layout:
    """Writes straight into CNCF Distribution's storage layout."""

    def __init__(self, root):
        self.v2 = os.path.join(root, "docker", "registry", "v2")

    @staticmethod
    def _put(path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def blob_path(self, digest):
        hexd = digest[7:]
        return os.path.join(self.v2, "blobs", "sha256", hexd[:2], hexd, "data")

    def blob_bytes(self, data, digest):
        path = self.blob_path(digest)
        if not os.path.exists(path):
            self._put(path, data)

    def blob_file(self, src, digest):
        path = self.blob_path(digest)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _link_or_copy(src, path)

    def repo(self, name):
        return os.path.join(self.v2, "repositories", name)

    def link(self, name, kind, digest):
        self._put(os.path.join(self.repo(name), kind, "sha256", digest[7:], "link"),
                  digest.encode())

    def tag(self, name, tag, digest):
        base = os.path.join(self.repo(name), "_manifests", "tags", tag)
        self._put(os.path.join(base, "index", "sha256", digest[7:], "link"), digest.encode())
        self._put(os.path.join(base, "current", "link"), digest.encode())

    def image(self, name, img, tags=("latest",)):
        for src, digest, _ in img.layers:
            self.blob_file(src, digest)
            self.link(name, "_layers", digest)
        self.blob_bytes(img.config, img.config_digest)
        self.link(name, "_layers", img.config_digest)
        self.blob_bytes(img.manifest, img.digest)
        self.link(name, "_manifests/revisions", img.digest)
        for t in tags:
            self.tag(name, t, img.digest)


class Data:
    """Everything the workloads read, made once per size profile."""

    def __init__(self, cache, sizes):
        self.cache = cache
        self.sizes = sizes
        os.makedirs(cache, exist_ok=True)

    def prepare(self, log):
        s = self.sizes
        c = self.cache
        log(f"data: preparing in {c} (cached between runs)")
        # Workloads 1 and 2: one image whose layer is the big blob.
        self.blob = make_layers(c, "blob", ["blob"], s["blob"])[0]
        self.pull_image = Image([self.blob])
        self.pull_root = os.path.join(c, f"root-pull-{s['blob']}")
        if not os.path.isdir(self.pull_root):
            Layout(self.pull_root + ".part").image("bench/pull", self.pull_image)
            os.rename(self.pull_root + ".part", self.pull_root)
        # Workload 3: the pushed blob, whole and in chunks.
        self.push_blob = os.path.join(c, f"push-{s['push']}.bin")
        if not os.path.exists(self.push_blob):
            write_raw(self.push_blob, "push", s["push"])
        self.push_digest = _cached_digest(self.push_blob)
        self.chunks = []
        for i in range(0, s["push"], s["chunk"]):
            path = os.path.join(c, f"push-{s['push']}.chunk{i // s['chunk']:04d}")
            if not os.path.exists(path):
                with open(self.push_blob, "rb") as src, open(path + ".part", "wb") as dst:
                    src.seek(i)
                    dst.write(src.read(s["chunk"]))
                os.rename(path + ".part", path)
            self.chunks.append((path, i, min(s["chunk"], s["push"] - i)))
        # Workload 4: many small layers, and one big one.
        small = make_layers(c, "small",
                            [f"small{i}" for i in range(s["small_layers"])], s["small_layer"])
        self.many_image = Image(small)
        big = make_layers(c, "big", ["big"], s["big_layer"])
        self.big_image = Image(big)
        self.layout_many = os.path.join(c, f"oci-many-{s['small_layers']}-{s['small_layer']}")
        oci_layout(self.layout_many, {"many": self.many_image})
        self.layout_big = os.path.join(c, f"oci-big-{s['big_layer']}")
        oci_layout(self.layout_big, {"big": self.big_image})
        # Workload 5: different images, one per client.
        self.client_images = []
        for i in range(s["clients"]):
            layers = make_layers(c, "client",
                                 [f"c{i}-{j}" for j in range(s["client_layers"])],
                                 s["client_layer"])
            self.client_images.append(Image(layers))
        self.layout_clients = os.path.join(
            c, f"oci-clients-{s['clients']}-{s['client_layers']}-{s['client_layer']}")
        oci_layout(self.layout_clients,
                   {f"c{i}": img for i, img in enumerate(self.client_images)})
        # Workload 7: roots with few and many repositories and tags.
        self.scale_roots = {}
        for n in (s["scale_small"], s["scale_large"]):
            root = os.path.join(c, f"root-scale-{n}-v2")
            if not os.path.isdir(root):
                shutil.rmtree(root + ".part", ignore_errors=True)
                make_scale_root(root + ".part", n)
                os.rename(root + ".part", root)
            self.scale_roots[n] = root
        log("data: ready")


def _cached_digest(path):
    meta = path + ".digest"
    if not os.path.exists(meta):
        with open(meta, "w") as f:
            f.write(file_digest(path))
    with open(meta) as f:
        return f.read().strip()


def make_scale_root(root, n):
    """n repositories scale/rNNNNNN tagged latest, and scale/tags with n tags,
    all pointing at one image with no layers. Each repository links the
    config blob: Distribution 2.8's catalog finds repositories by _layers."""
    small = Image([])
    lay = Layout(root)
    lay.blob_bytes(small.config, small.config_digest)
    lay.blob_bytes(small.manifest, small.digest)
    for name in [f"scale/r{i:06d}" for i in range(n)] + ["scale/tags"]:
        lay.link(name, "_layers", small.config_digest)
        lay.link(name, "_manifests/revisions", small.digest)
        if name != "scale/tags":
            lay.tag(name, "latest", small.digest)
    name = "scale/tags"
    for i in range(n):
        lay.tag(name, f"t{i:06d}", small.digest)

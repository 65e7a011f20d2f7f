"""
Files of the taskbox's bundle on a host, fetched once and checked by sha256.

.. code-block:: yaml

    kubernetes-binaries-saltsphere-bundle-fetched-kubelet:
      saltsphere_bundle.fetched:
        - name: /usr/local/bin/kubelet
        - source: http://172.29.0.1:8089/<token>/bin/kubelet
        - sha256: 2f0a...
        - mode: '0755'

``file.managed`` with a ``source_hash`` reads every byte of the file on each
run to compare hashes, so a no-op run costs more the bigger the bundle.  This
state hashes a file once, when it is fetched or first found, and keeps the
result in a record beside the file's inode number, size, mtime and ctime
(``/var/lib/saltsphere/bundle-files.json``).  A later run that finds the same
inode unchanged (any write or chmod moves ctime, which no tool can set back)
trusts the record: its cost is one stat per file, whatever the file's size.
A file changed, replaced or unknown is hashed again, and fetched again only
when its content differs.  The download goes to a temporary file in the same
directory, is hashed as it arrives, and replaces the target only when the
hash is the manifest's.
"""

import hashlib
import http.client
import json
import os
import tempfile
import urllib.error
import urllib.request

__virtualname__ = "saltsphere_bundle"

RECORD = "/var/lib/saltsphere/bundle-files.json"
CHUNK = 1 << 20


class FetchError(Exception):
    """The download failed or brought the wrong content; the message says which and what to do."""


def __virtual__():
    return __virtualname__


def _stamp(st):
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _load(record):
    try:
        with open(record, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save(record, data):
    directory = os.path.dirname(record)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bundle-files.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, record)
    except BaseException:
        os.unlink(tmp)
        raise


def _hash_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(source, directory, sha256, timeout):
    """Fetch ``source`` into a temporary file of ``directory``; return its path once its sha256 is right."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".saltsphere-fetch.")
    try:
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(source, timeout=timeout) as response:
                for block in iter(lambda: response.read(CHUNK), b""):
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
        except urllib.error.HTTPError as exc:
            raise FetchError(f"the taskbox's bundle server answered {exc.code} {exc.reason} for {source}; check the "
                             "bundle there with `saltsphere artifact verify`") from None
        except urllib.error.URLError as exc:
            raise FetchError(f"cannot fetch it from {source}: {exc.reason}; is the taskbox's bundle server "
                             "reachable from this host?") from None
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"fetching it from {source} failed: {getattr(exc, 'strerror', None) or exc!r}; "
                             "run again once the cause is fixed") from None
        if digest.hexdigest() != sha256:
            raise FetchError(f"{source} sent content with sha256 {digest.hexdigest()}, not the manifest's {sha256}; "
                             "the bundle on the taskbox changed or is damaged: run `saltsphere artifact verify` there")
        return tmp
    except BaseException:
        os.unlink(tmp)
        raise


def fetched(name, source, sha256, mode="0644", makedirs=True, timeout=120, record=RECORD):
    """
    Ensure ``name`` holds the bundle file whose sha256 is ``sha256``, fetching it from ``source`` if not.

    ``mode`` is kept too.  Nothing is downloaded when the file is already
    right, and nothing is read when the record says it was right and the file
    has not been touched since.  Under ``test=True`` nothing is written, not
    even the record of a file found right.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    sha256 = str(sha256).lower()
    wanted_mode = int(str(mode), 8)
    records = _load(record)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        ret.update(result=False, comment=f"cannot inspect {name}: {exc.strerror}")
        return ret

    current = None
    if st is not None:
        known = records.get(name)
        if known and known.get("stamp") == _stamp(st):
            current = known.get("sha256")
        else:
            try:
                current = _hash_file(name)
            except OSError as exc:
                ret.update(result=False, comment=f"cannot read {name}: {exc.strerror}")
                return ret

    content_ok = current == sha256
    mode_ok = st is not None and (st.st_mode & 0o7777) == wanted_mode
    if content_ok and mode_ok:
        # The record only saves hashing next time; a dry run leaves the host as it found it.
        if not __opts__["test"] and records.get(name, {}).get("stamp") != _stamp(st):
            records[name] = {"sha256": sha256, "stamp": _stamp(st)}
            _save(record, records)
        ret["comment"] = f"{name} is the bundle's (sha256 {sha256[:12]}...)"
        return ret

    if content_ok:
        changes = {"mode": {"old": oct(st.st_mode & 0o7777)[2:].zfill(4), "new": str(mode)}}
    else:
        changes = {"sha256": {"old": current, "new": sha256}}
    if __opts__["test"]:
        ret.update(result=None, changes=changes,
                   comment=f"{name} would be {'fetched from ' + source if not content_ok else 'given mode ' + str(mode)}")
        return ret

    directory = os.path.dirname(name) or "."
    try:
        if makedirs:
            os.makedirs(directory, mode=0o755, exist_ok=True)
        if content_ok:
            os.chmod(name, wanted_mode)
        else:
            tmp = _download(source, directory, sha256, timeout)
            os.chmod(tmp, wanted_mode)
            os.replace(tmp, name)
            changes["size"] = os.stat(name).st_size
        records[name] = {"sha256": sha256, "stamp": _stamp(os.stat(name))}
        _save(record, records)
    except FetchError as exc:
        ret.update(result=False, comment=f"{name}: {exc}")
        return ret
    except OSError as exc:
        ret.update(result=False, comment=f"cannot put {name} in place: {exc.strerror or exc}")
        return ret
    ret["changes"] = changes
    ret["comment"] = f"{name} {'fetched from ' + source if not content_ok else 'given mode ' + str(mode)}"
    return ret

"""
Debian packages from the taskbox's signed apt repository, with nothing of it left on the host.

Each install builds a private apt configuration in a fresh temporary
directory: the cluster's public key, a source list with the one repository
(``signed-by`` that key), and package lists and downloads of its own.  apt
reads that configuration alone (``APT_CONFIG``, and nothing of the host's
``/etc/apt``; dpkg's database, apt's log and its marks of automatically
installed packages stay the host's), so the host's own ``apt-get`` never sees
the repository, a mirror the host lists but cannot reach costs nothing, and
the repository's URL (which carries a token of the run) is gone with the
directory.  apt checks the
signed index against the key, every package index against the index and every
package against its package index, and downloads everything before dpkg runs:
a file that fails a check installs nothing.

Runs on cluster hosts with the standard library and Salt only.
"""

import base64
import binascii
import os
import re
import shutil
import tempfile
import time
import urllib.parse

from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_packages"

UPDATE_TIMEOUT = 300
INSTALL_TIMEOUT = 1800
# What an install leaves behind when the host loses its Salt run mid-way
# (the URL in it is stale by then) is removed by a later install.
WORK_PREFIX = "saltsphere-apt."
WORK_MAX_AGE = UPDATE_TIMEOUT + INSTALL_TIMEOUT
APT_LINE_MAX = 300
PREPARE = "`salt-run saltsphere.prepare`"
VERIFY = "`saltsphere artifact verify`"

# apt.conf of one install.  The host's own settings are not read: these are
# apt's secure defaults written down, so that nothing on the host loosens them.
# The Release file's date is not checked: the host's clock may not be set yet
# (the time daemon is among the packages this installs).
APT_CONF = """\
Dir::Etc::sourcelist "{work}/sources.list";
Dir::Etc::sourceparts "-";
Dir::Etc::main "{work}/none";
Dir::Etc::parts "{work}/empty";
Dir::Etc::preferences "{work}/none";
Dir::Etc::preferencesparts "{work}/empty";
Dir::Etc::trusted "{work}/none";
Dir::Etc::trustedparts "{work}/empty";
Dir::State::lists "{work}/lists";
Dir::Cache::archives "{work}/archives";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::http::Proxy "DIRECT";
Acquire::https::Proxy "DIRECT";
Acquire::http::Timeout "30";
Acquire::Languages "none";
Acquire::Check-Date "false";
Acquire::AllowInsecureRepositories "false";
Acquire::AllowDowngradeToInsecureRepositories "false";
APT::Get::AllowUnauthenticated "false";
Dpkg::Options {{ "--force-confdef"; "--force-confold"; }};
"""

_INDEX = re.compile(r"^(Packages|Sources|Translation-[^/]*)(\.(gz|xz|bz2|lzma|lz4|zst))?$")
_SIGNED = ("InRelease", "Release", "Release.gpg")
_SIGNATURE_TROUBLE = ("GPG error", "is not signed", "NO_PUBKEY", "BADSIG", "EXPKEYSIG", "REVKEYSIG",
                      "signatures were invalid", "Clearsigned file isn't valid")


def __virtual__():
    return __virtualname__


def _dpkg_query(pkgs):
    if not shutil.which("dpkg-query"):
        return None
    result = __salt__["cmd.run_all"](
        ["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Status}\t${Version}\n", *pkgs],
        python_shell=False, ignore_retcode=True, output_loglevel="trace", env={"LC_ALL": "C"},
    )
    # 1: some package is not known to dpkg at all, which is a plain "missing".
    if result["retcode"] not in (0, 1):
        raise CommandExecutionError(f"dpkg-query failed (exit {result['retcode']}): "
                                    f"{result['stderr'].strip() or 'no output'}; is dpkg's database readable?")
    installed = {}
    for line in result["stdout"].splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[1] == "installed":
            installed[fields[0]] = fields[2]
    return installed


def _base(name):
    return str(name).split(":", 1)[0]


def versions(pkgs):
    """
    The installed version of each of ``pkgs`` that is installed: ``{name: version}``.

    Reads dpkg's database only (``dpkg-query``); hosts without dpkg ask Salt's
    ``pkg.version``.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_packages.versions '[chrony, socat]'
    """
    pkgs = list(pkgs)
    installed = _dpkg_query(pkgs)
    if installed is None:
        found = __salt__["pkg.version"](*pkgs)
        found = {pkgs[0]: found} if isinstance(found, str) else found
        return {name: version for name, version in found.items() if version}
    return {name: installed[_base(name)] for name in pkgs if _base(name) in installed}


def missing(pkgs):
    """
    Those of ``pkgs`` that are not installed (in their order); empty when all are.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_packages.missing '[chrony, socat]'
    """
    pkgs = list(pkgs)
    installed = versions(pkgs)
    return [name for name in pkgs if name not in installed]


def install(pkgs, url, keyring, install_recommends=True, update_timeout=UPDATE_TIMEOUT,
            install_timeout=INSTALL_TIMEOUT):
    """
    Install ``pkgs`` from the flat apt repository at ``url``, signed by ``keyring``; return their versions.

    ``url`` is the repository's directory (``http://<taskbox>:8089/<token>/debs/debian-12``);
    ``keyring`` the base64 of the binary OpenPGP public key its ``InRelease`` is
    signed with.  Raises ``CommandExecutionError`` naming the file that failed
    apt's checks, when one does; nothing is installed then.  Nothing under
    ``/etc/apt`` is read or written.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_packages.install '[chrony]' http://10.0.0.1:8089/debs/debian-12 mQAz...
    """
    pkgs = list(pkgs)
    url = str(url).rstrip("/")
    try:
        key = base64.b64decode(str(keyring), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise CommandExecutionError(f"the cluster's package signing key (pillar saltsphere:bundle:apt_keyring) is "
                                    f"not base64 of a key; run {PREPARE} and run again")
    _remove_leftovers(tempfile.gettempdir())
    work = tempfile.mkdtemp(prefix=WORK_PREFIX)
    try:
        env = _configure(work, url, key)
        result = _apt(["update", "--error-on=any"], env, update_timeout)
        if result["retcode"] != 0:
            raise CommandExecutionError(_diagnose("update", result, url, update_timeout))
        options = [] if install_recommends else ["--no-install-recommends"]
        result = _apt(["-y", *options, "install", *pkgs], env, install_timeout)
        if result["retcode"] != 0:
            raise CommandExecutionError(_diagnose("install", result, url, install_timeout))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    installed = versions(pkgs)
    absent = [name for name in pkgs if name not in installed]
    if absent:
        raise CommandExecutionError(f"apt-get install succeeded but dpkg does not list {', '.join(absent)} as "
                                    "installed; run `dpkg --audit` on this host")
    return installed


def _configure(work, url, key):
    # apt's downloads run as the unprivileged _apt: it must reach the keyring
    # and its download directories, though it may not list or change this one.
    os.chmod(work, 0o711)
    for directory in ("empty", "lists/partial", "archives/partial"):
        os.makedirs(os.path.join(work, directory), 0o755)
    keyring = os.path.join(work, "keyring.gpg")
    _write(keyring, key, 0o644)
    _write(os.path.join(work, "sources.list"), f"deb [signed-by={keyring}] {url}/ ./\n".encode(), 0o600)
    config = os.path.join(work, "apt.conf")
    _write(config, APT_CONF.format(work=work).encode(), 0o600)
    return {"APT_CONFIG": config, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C", "LANG": "C",
            "LANGUAGE": ""}


def _write(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)


def _remove_leftovers(parent):
    now = time.time()
    try:
        names = [name for name in os.listdir(parent) if name.startswith(WORK_PREFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(parent, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path) and now - os.stat(path).st_mtime > WORK_MAX_AGE:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _apt(args, env, timeout):
    return __salt__["cmd.run_all"](["apt-get", "-q", *args], python_shell=False, env=env, timeout=timeout,
                                   ignore_retcode=True, output_loglevel="quiet")


# --- what apt said -----------------------------------------------------------------------------------------

def _repository_path(url):
    """``debs/debian-12`` of ``http://10.0.0.1:8089/<token>/debs/debian-12``: the bundle's name for it, no token."""
    parts = [part for part in urllib.parse.urlsplit(str(url)).path.split("/") if part]
    if "debs" in parts:
        parts = parts[len(parts) - 1 - parts[::-1].index("debs"):]
    return "/".join(parts)


def _shown_url(url):
    """``url`` as messages show it: the token path before the repository left out."""
    split = urllib.parse.urlsplit(url)
    repo = _repository_path(url)
    if split.path.strip("/") == repo:
        return url
    return f"{split.scheme}://{split.netloc}/.../{repo}"


def _messages(text):
    """apt's ``E:`` and ``W:`` lines: each names the file and the fault (what follows them is detail)."""
    return [line for line in text.splitlines() if line[:3] in ("E: ", "W: ")]


def _file_of(message, url):
    """The repository's file a message is about, by name, or None."""
    escaped = re.escape(url)
    match = re.search(escaped + r"(?:/\./|/| \./ )([^\s':]+)", message)
    return match.group(1) if match else None


def _trimmed(message, url):
    # apt names its list files after the URL, with "_" for "/".
    split, shown = urllib.parse.urlsplit(url), urllib.parse.urlsplit(_shown_url(url))
    message = message.replace(url, _shown_url(url)).replace(
        (split.netloc + split.path).replace("/", "_"), (shown.netloc + shown.path).replace("/", "_"))
    line = " ".join(message.split())
    return line if len(line) <= APT_LINE_MAX else line[:APT_LINE_MAX - 3] + "..."


def _diagnose(step, result, url, timeout):
    """What went wrong in ``apt-get <step>`` (``result`` is ``cmd.run_all``'s), for a person.

    Names the repository's file apt refused, says what to do, and ends with
    apt's own line; the URL's token never appears in the text.
    """
    repo = _repository_path(url)
    stdout, stderr = result.get("stdout") or "", result.get("stderr") or ""
    messages = _messages(stderr) + _messages(stdout)
    errors = [message for message in messages if message.startswith("E: ")]
    if not messages and "Timed out after" in stdout:
        return (f"apt-get {step} from the bundle's apt repository {repo} did not finish within {timeout} s: is the "
                "taskbox's bundle server reachable from this host and not overloaded?")

    gpg = next((message for message in messages if "GPG error" in message), None)
    for message in messages:
        name = _file_of(message, url) or "InRelease"
        if gpg is None and name == "Release" and "is not signed" in message:
            return (f"the taskbox's bundle server serves {repo} unsigned (no {repo}/InRelease): run {PREPARE} on the "
                    f"taskbox and run again (apt: {_trimmed(message, url)})")
        if any(mark in message for mark in _SIGNATURE_TROUBLE) and name in _SIGNED:
            detail = gpg or message
            return (f"the bundle's signed index {repo}/{name} does not verify with this cluster's key: the taskbox's "
                    f"bundle server served something else, or the key changed since it was signed; run {VERIFY} and "
                    f"{PREPARE} on the taskbox, then run again (apt: {_trimmed(detail, url)})")
        if "does not have a Release file" in message:
            return (f"the taskbox's bundle server has no signed index for {repo} ({repo}/InRelease): run {PREPARE} "
                    f"on the taskbox and run again (apt: {_trimmed(message, url)})")

    for message in errors:
        mismatch = re.search(r"Hash Sum mismatch|File has unexpected size \([^)]*\)", message)
        if mismatch:
            name = _file_of(message, url) or "?"
            if _INDEX.match(name):
                what = f"the bundle's package index {repo}/{name} does not match the signed {repo}/InRelease"
            else:
                what = f"the package file {repo}/{name} does not match the bundle's signed package index"
            return (f"{what} ({mismatch.group(0)}): the taskbox's bundle server served something else, and nothing "
                    f"was installed; run {VERIFY} on the taskbox and run again (apt: {_trimmed(message, url)})")

    for message in errors:
        if message.startswith("E: Failed to fetch"):
            return (f"cannot fetch {repo}/{_file_of(message, url) or '?'} from the taskbox's bundle server: is it "
                    f"running and reachable from this host? Run {PREPARE} on the taskbox and run again "
                    f"(apt: {_trimmed(message, url)})")
        located = re.search(r"Unable to locate package (\S+)|Package '?([^' ]+)'? has no installation candidate",
                            message)
        if located:
            return (f"the bundle's apt repository {repo} has no package {located.group(1) or located.group(2)}: build "
                    f"the bundle again with it (apt: {_trimmed(message, url)})")

    shown = "; ".join(_trimmed(message, url) for message in (errors or messages)[-3:]) or "no output"
    return f"apt-get {step} from the bundle's apt repository {repo} failed (exit {result.get('retcode')}): {shown}"

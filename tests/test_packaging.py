"""The wheel as users get it: built NON-editable from the sources, installed into a fresh
venv, it runs `myotwitch --help`, claims only the `myotwitch` import namespace, and finds its
shipped data (advice rules, examples) through importlib.resources inside the install."""

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _sources(dest: pathlib.Path) -> pathlib.Path:
    """A clean copy of what git tracks (plus new files not yet committed), so the build
    leaves nothing in the checkout."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: cannot list the sources to build")
    for name in filter(None, listed.stdout.decode().split("\0")):
        src = ROOT / name
        if src.is_file() and not name.startswith((".venv", "tests/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _setuptools_major() -> int:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("setuptools").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 0


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    src = _sources(work / "src")
    # without build isolation when the build backend is at hand (fast, offline); else pip fetches it
    have_backend = importlib.util.find_spec("wheel") is not None and _setuptools_major() >= 68
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(src)]
    if have_backend:
        cmd.insert(5, "--no-build-isolation")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list((work / "dist").glob("myotwitch-*.whl"))
    assert len(wheels) == 1
    venv = work / "venv"
    # the dependencies (numpy, scipy, ...) come from the running interpreter's site-packages
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # this interpreter's pip installs into the new venv (pip --python), writing its `myotwitch` script
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                        "-q", str(wheels[0])], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    shutil.rmtree(src)  # nothing may depend on the sources after installing
    return wheels[0], venv, python, pathlib.Path(site)


def _clean_env() -> dict:
    """No PYTHONPATH or checkout on the path: only what the venv holds."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}


def test_wheel_claims_only_the_myotwitch_namespace(installed):
    wheel, *_ = installed
    tops = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"myotwitch", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    assert not {"dsp", "host", "data"} & tops


def test_installed_command_runs(installed):
    _, venv, python, site = installed
    script = venv / "bin" / "myotwitch"
    assert script.read_text().startswith(f"#!{python}")
    r = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120, cwd="/",
                       env=_clean_env())
    assert r.returncode == 0, r.stderr
    assert "live" in r.stdout and "analyze" in r.stdout


def test_shipped_data_comes_from_the_installed_wheel(installed):
    _, _, python, site = installed
    code = ("import pathlib, myotwitch.host, myotwitch.host.paths as p\n"
            "from importlib import resources\n"
            "from myotwitch.host.advice import load_rules\n"
            "rules = resources.files('myotwitch.data').joinpath('advice/rules.toml')\n"
            "edf = resources.files('myotwitch.data').joinpath('examples/calf-10min.edf')\n"
            "print(pathlib.Path(myotwitch.host.__file__).resolve())\n"
            "print(pathlib.Path(str(rules)).resolve())\n"
            "print(pathlib.Path(load_rules().path).resolve())\n"
            "print(edf.is_file() and edf.read_bytes()[:1] == b'0')\n"
            "print(p.data_dir().resolve())\n")
    r = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120, cwd="/",
                       env=_clean_env())
    assert r.returncode == 0, r.stderr
    host, rules, loaded, edf_ok, data = r.stdout.split("\n")[:5]
    root = str(site.resolve())
    for path in (host, rules, loaded, data):
        assert path.startswith(root), (path, root)  # from the install, not the checkout
    assert edf_ok == "True"

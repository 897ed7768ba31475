import subprocess
import sys


def test_importing_groupvit_tf_does_not_import_torch():
    code = "import sys, groupvit.tf; assert 'torch' not in sys.modules, 'groupvit.tf imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_torch_not_loaded_in_this_session():
    import groupvit.tf  # noqa: F401

    assert "torch" not in sys.modules

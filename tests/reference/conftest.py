import pytest
from port_helpers import InjectedGumbel, port_module


@pytest.fixture
def inject_port_noise(monkeypatch):
    def install(noise):
        fake = InjectedGumbel(noise)
        monkeypatch.setattr(port_module, "gumbel_softmax", fake)
        return fake

    return install

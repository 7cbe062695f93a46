"""Settings of the counter agent (`CLERK_` environment variables), one pydantic-settings class."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Camera(StrEnum):
    """Where the call's video comes from."""

    synthetic = "synthetic"  # a generated test pattern (demo, tests)
    device = "device"  # the office's registered camera


class AgentSettings(BaseSettings):
    """Everything `clerk-agent run` needs; defaults run against a local demo hub."""

    model_config = SettingsConfigDict(env_prefix="CLERK_", extra="ignore")

    hub_url: str = Field(default="http://127.0.0.1:8300", description="The hub's base URL")
    device_id: str = Field(default="", description="This device's id at the hub (dev_…)")
    key_file: Path = Field(
        default=Path("var/hub/demo-device.key"), description="The device's Ed25519 key (PEM)"
    )
    # "virtual" reads the Virtual My Number Card in-process; any other value is a PC/SC reader's exact name.
    card_source: str = Field(default="virtual")
    virtual_person: str = Field(
        default="yamada_hanako", description="Which invented person the virtual card holds"
    )
    # The contactless reader ID documents are laid on (passport, ...), by its exact PC/SC name; none: no chip reads
    # (or, with the virtual card, the demo's virtual documents below).
    document_reader: str | None = None
    virtual_document: str = Field(
        default="passport",
        pattern=r"^(passport|driving_licence|residence_card|special_permanent_resident)$",
        description="With the virtual card and no document reader: the virtual document first on the reader "
        "(the clerk screen's demo row swaps it; docs/id-documents.md §Virtual)",
    )
    pki_dir: Path = Field(default=Path("var/dev-pki"), description="Test PKI of the virtual card")
    virtual_card_generation: str = Field(
        default="gen2016",
        pattern=r"^(gen2016|gen2028)$",
        description="Which card the virtual card is: gen2016 the current one, gen2028 the next (docs/card.md §3)",
    )
    camera: Camera = Camera.synthetic
    # With camera=synthetic: who sits in front of it. "cardholder" is the virtual card's person (the chip photo
    # matches), "other" an invented stranger for practising a mismatch, "nobody" the moving test pattern.
    camera_person: str = Field(default="cardholder", pattern=r"^(cardholder|other|nobody)$")
    # With camera=device: the devices as the OS names them (/dev/video0 and hw:1 on Linux, "FaceTime HD Camera"
    # on macOS, the DirectShow name on Windows). One camera feeds the call and the stills at its full resolution.
    camera_device: str = Field(default="", description="The counter camera (camera=device)")
    camera_size: str = Field(
        default="1920x1080", pattern=r"^\d{2,5}x\d{2,5}$", description="The camera's full resolution, WxH"
    )
    camera_fps: int = Field(default=30, ge=1, le=60, description="The camera's frame rate")
    microphone_device: str = Field(
        default="", description="The counter microphone (camera=device; empty: none)"
    )
    speaker_device: str = Field(
        default="", description="Where the officer's voice plays, e.g. ALSA 'default' (empty: not played)"
    )
    speaker_format: str = Field(
        default="alsa", description="PyAV output format of the speaker (alsa, pulse, …)"
    )
    data_dir: Path = Field(default=Path("var/agent"), description="Local record and pending hub writes")
    ui_port: int = Field(default=8400, ge=0, le=65535, description="Local counter UI port on 127.0.0.1")
    poll_seconds: float = Field(default=1.0, gt=0, description="How often a waiting case is polled")
    backoff_max_seconds: float = Field(default=10.0, gt=0, description="Ceiling of the hub retry backoff")
    # Certificates at the post office: the back office's printer (the clerk's print station) and the lobby
    # terminal (`clerk-agent kiosk`) with its own slip printer, both as IPP URIs (a CUPS queue or an IPP printer).
    printer_uri: str = Field(
        default="", description="Back-office printer, e.g. ipp://127.0.0.1:631/printers/certs"
    )
    kiosk_printer_uri: str = Field(
        default="", description="The lobby terminal's receipt-slip printer (IPP URI)"
    )
    kiosk_municipality_code: str = Field(
        default="", description="Municipality the terminal serves (empty: the office's first designation)"
    )
    kiosk_idle_seconds: float = Field(
        default=60.0, gt=0, description="Idle time after which the session is wiped"
    )
    kiosk_ui_port: int = Field(
        default=8410, ge=0, le=65535, description="Lobby terminal UI port on 127.0.0.1"
    )
    # TLS to the hub (https hub_url): a private CA to trust, and the device's client certificate where the hub
    # runs with device mTLS (`hub device cert`).
    hub_ca_file: Path | None = Field(default=None, description="CA of the hub's TLS certificate (PEM)")
    client_cert_file: Path | None = Field(default=None, description="Device client certificate (PEM)")
    client_key_file: Path | None = Field(default=None, description="Its private key (PEM)")

    @property
    def virtual_card(self) -> bool:
        """Whether the card is the in-process virtual one."""
        return self.card_source == "virtual"

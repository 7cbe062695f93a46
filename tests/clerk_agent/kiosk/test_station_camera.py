"""The print station reads a receipt slip's QR code with the counter camera (the synthetic one here)."""

from __future__ import annotations

from clerk_agent.photo import scenes
from clerk_agent.photo.camera import SceneCamera
from clerk_agent.photo.qr import receipt_number_in, scan_receipt_number


async def test_the_camera_reads_the_receipt_number_held_up_to_it() -> None:
    camera = SceneCamera(640, 480)
    camera.show(scenes.qr_code("20660-54648", box_px=6))
    assert await scan_receipt_number(camera, timeout_s=2.0) == "20660-54648"


async def test_no_slip_in_front_of_the_camera_reads_nothing() -> None:
    camera = SceneCamera(320, 240)
    assert await scan_receipt_number(camera, timeout_s=0.3, interval_s=0.1) is None


def test_only_a_receipt_number_is_taken_from_a_qr_code() -> None:
    assert receipt_number_in(" 2066054648 ") == "2066054648"
    assert receipt_number_in("https://hub.example/verify/ABC") is None
    assert receipt_number_in("12") is None

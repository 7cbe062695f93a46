"""The Japanese documents' rows of bench/chip_read.py: the IC driving licence and the residence card, each read in full
through pcscd + vpcd and verified by the hub, beside the passport and the bare APDU floor of the same run.

    flock /tmp/madoguchi-pcsc.lock .venv/bin/python bench/chip_read_jp.py [--rounds 20] [--selects 200]

The licence row includes both PIN VERIFYs (the PINs are right, so no try is spent); the residence row the mutual
authentication, the SM VERIFY of the card number and every object under secure messaging (docs/id-documents.md
§Japanese).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chip_read import DOCUMENTS, Document, main  # noqa: E402
from clerk_agent.card import apdu  # noqa: E402
from clerk_agent.card.idchips.licence import LicenceReader  # noqa: E402
from clerk_agent.card.idchips.residence import ResidenceReader  # noqa: E402
from clerk_agent.card.virtual.idchips.jp_people import LICENCE_HOLDERS, RESIDENCE_HOLDERS  # noqa: E402
from clerk_agent.card.virtual.idchips.jp_pki import signer_from_dev_pki  # noqa: E402
from clerk_agent.card.virtual.idchips.licence import build_virtual_licence  # noqa: E402
from clerk_agent.card.virtual.idchips.residence import build_virtual_residence_card  # noqa: E402
from service.wire import idchips_jp as jp  # noqa: E402
from service.wire.idchips import ChipKind  # noqa: E402

SATO = LICENCE_HOLDERS["sato_ichiro"]
LAN = RESIDENCE_HOLDERS["nguyen_lan"]

JAPANESE_DOCUMENTS = [
    Document(
        "licence (PIN 1+2)",
        ChipKind.driving_licence,
        lambda pki: build_virtual_licence("sato_ichiro", signer=signer_from_dev_pki(pki, "driving_licence")),
        lambda transport: LicenceReader(transport).read(
            bytearray(SATO.pin1.encode()), bytearray(SATO.pin2.encode())
        ),
        apdu.select_df(jp.LICENCE_DF1_AID).encode(),
    ),
    Document(
        "residence card (3DES SM)",
        ChipKind.residence_card,
        lambda pki: build_virtual_residence_card(
            "nguyen_lan", signer=signer_from_dev_pki(pki, "residence_card")
        ),
        lambda transport: ResidenceReader(transport).read(bytearray(LAN.card_number.encode())),
        apdu.select_df(jp.RESIDENCE_DF1_AID).encode(),
    ),
]


if __name__ == "__main__":
    DOCUMENTS.extend(JAPANESE_DOCUMENTS)
    raise SystemExit(main())

"""The lobby terminal (郵便局型利用端末, セパレート型): `clerk-agent kiosk`, its flow, its touch UI and its slip."""

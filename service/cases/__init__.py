"""Cases: one applicant's procedure at a designated post office, from check-in to closure."""

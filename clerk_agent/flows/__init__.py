"""Guided counter procedures (窓口の手続き): the flow state, the card slot and the live call."""

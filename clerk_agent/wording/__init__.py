"""The counter screens' wording, Japanese first with English: labels, messages, the hub's problem codes."""

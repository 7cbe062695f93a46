"""The back office's printer: certificates and receipt slips go to a CUPS queue or an IPP printer over IPP."""

"""Card work at the counter after the decision: e-certificate issue or renewal, PIN change or reset."""

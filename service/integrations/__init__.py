"""Back-office integration: J-LIS submission, mailed-card tracking, resident-record checks, exports."""

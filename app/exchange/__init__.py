"""Exchange with the upper-level reporting system (QCVN 125:2021/BTTTT): messages.py holds the format, upstream.py the upper level's role, downstream.py the province's."""

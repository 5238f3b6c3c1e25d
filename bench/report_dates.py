"""The first days of the newest N months, newest first, comma-separated: the dates the set_usage
case's reports rotate over (bench/load.lua's DATES). Used by bench/run.sh and
bench/set_usage_rounds.sh."""
import datetime
import sys

today = datetime.date.today()
current = today.year * 12 + today.month - 1
months = [divmod(current - back, 12) for back in range(int(sys.argv[1]))]
print(",".join("%04d-%02d-01T00:00:00Z" % (year, month + 1) for year, month in months))

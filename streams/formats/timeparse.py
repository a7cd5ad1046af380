"""Timestamp helpers shared by the parsers: Windows biases, Windows zone names, ctime-style dates.

Windows writes a *bias*: the minutes to ADD to local time to get UTC (``UTC = local + bias``). So
``+480`` is Pacific Standard Time (UTC-8) and ``-60`` is Central European Time (UTC+1). The SMS server
trailer and the CMTrace ``time="...+TZ"`` attribute both use this convention (a CMTrace file from a
US-Eastern machine in October says ``+240``: EDT is UTC-4).

Every function here is pure; callers cache results per second-resolution string, because consecutive
records share the same second far more often than not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}

# Windows time-zone *standard* names -> bias in minutes (UTC = local + bias). A "... Daylight Time"
# name is the same zone one hour ahead, so its bias is the standard bias minus 60.
WINDOWS_ZONE_BIAS = {
    "dateline standard time": 720,
    "hawaiian standard time": 600,
    "alaskan standard time": 540,
    "pacific standard time": 480,
    "pacific standard time (mexico)": 480,
    "mountain standard time": 420,
    "us mountain standard time": 420,
    "mountain standard time (mexico)": 420,
    "central standard time": 360,
    "central america standard time": 360,
    "canada central standard time": 360,
    "central standard time (mexico)": 360,
    "mexico standard time": 360,
    "eastern standard time": 300,
    "us eastern standard time": 300,
    "sa pacific standard time": 300,
    "atlantic standard time": 240,
    "sa western standard time": 240,
    "newfoundland standard time": 210,
    "e. south america standard time": 180,
    "sa eastern standard time": 180,
    "argentina standard time": 180,
    "greenland standard time": 180,
    "mid-atlantic standard time": 120,
    "azores standard time": 60,
    "cape verde standard time": 60,
    "gmt standard time": 0,
    "greenwich standard time": 0,
    "greenwich mean time": 0,
    "coordinated universal time": 0,
    "utc": 0,
    "w. europe standard time": -60,
    "central europe standard time": -60,
    "central european standard time": -60,
    "romance standard time": -60,
    "w. central africa standard time": -60,
    "e. europe standard time": -120,
    "gtb standard time": -120,
    "fle standard time": -120,
    "egypt standard time": -120,
    "israel standard time": -120,
    "jerusalem standard time": -120,
    "south africa standard time": -120,
    "russian standard time": -180,
    "arab standard time": -180,
    "arabic standard time": -180,
    "e. africa standard time": -180,
    "iran standard time": -210,
    "arabian standard time": -240,
    "afghanistan standard time": -270,
    "west asia standard time": -300,
    "pakistan standard time": -300,
    "india standard time": -330,
    "nepal standard time": -345,
    "central asia standard time": -360,
    "myanmar standard time": -390,
    "se asia standard time": -420,
    "china standard time": -480,
    "singapore standard time": -480,
    "malay peninsula standard time": -480,
    "taipei standard time": -480,
    "w. australia standard time": -480,
    "tokyo standard time": -540,
    "korea standard time": -540,
    "cen. australia standard time": -570,
    "aus central standard time": -570,
    "aus eastern standard time": -600,
    "e. australia standard time": -600,
    "tasmania standard time": -600,
    "west pacific standard time": -600,
    "central pacific standard time": -660,
    "new zealand standard time": -720,
    "fiji standard time": -720,
    "tonga standard time": -780,
}


def zone_bias(name: str) -> int | None:
    """Bias in minutes for a Windows zone name; daylight names are standard - 60; None if unknown."""
    key = " ".join(name.lower().split())
    bias = WINDOWS_ZONE_BIAS.get(key)
    if bias is not None:
        return bias
    if "daylight time" in key:
        standard = WINDOWS_ZONE_BIAS.get(key.replace("daylight time", "standard time"))
        if standard is not None:
            return standard - 60
    return None


def local_to_utc(local: datetime, bias_minutes: int) -> datetime:
    """Aware UTC datetime for a naive local time written with a Windows bias."""
    return (local + timedelta(minutes=bias_minutes)).replace(tzinfo=UTC)


def fraction_to_micro(digits: str) -> int:
    """'5' -> 500000, '547' -> 547000, '1590494' -> 159049 (digits after the decimal point)."""
    return int((digits + "000000")[:6]) if digits else 0


def year_from(text: str) -> int:
    """Four-digit year from a 2- or 4-digit field (two digits: 70-99 -> 19xx, else 20xx)."""
    year = int(text)
    if len(text) <= 2:
        year += 1900 if year >= 70 else 2000
    return year


def parse_ctime(text: str) -> tuple[datetime, str] | None:
    """Parse ``[Fri ]Mar 26 10:43:41[.547] 1999[ zone name]`` -> (naive datetime, zone text).

    The weekday is optional and ignored. Returns None when the text is not in that shape or names an
    impossible date.
    """
    parts = text.split()
    if len(parts) < 4:
        return None
    if parts[0][:3].lower() in MONTHS and not parts[0][:1].isdigit() and parts[1].isdigit():
        month_s, day_s, clock, year_s, rest = parts[0], parts[1], parts[2], parts[3], parts[4:]
    elif len(parts) >= 5:
        month_s, day_s, clock, year_s, rest = parts[1], parts[2], parts[3], parts[4], parts[5:]
    else:
        return None
    month = MONTHS.get(month_s[:3].lower())
    if month is None or not day_s.isdigit() or not year_s.isdigit():
        return None
    hms, _, frac = clock.partition(".")
    pieces = hms.split(":")
    if len(pieces) != 3 or not all(p.isdigit() for p in pieces) or not (frac == "" or frac.isdigit()):
        return None
    try:
        value = datetime(
            int(year_s), month, int(day_s), int(pieces[0]), int(pieces[1]), int(pieces[2]),
            fraction_to_micro(frac),
        )  # fmt: skip
    except ValueError:
        return None
    return value, " ".join(rest)

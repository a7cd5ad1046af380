"""Log formats: decoding bytes into lines, and lines into :class:`Record` objects.

Pipeline for one file: ``LineDecoder`` (BOM sniffing, encodings, CR/LF/CRLF, byte offsets) feeds
``Line`` objects to a format ``Parser`` (SMS server trailer, STATMSG, CMTrace, MSI, MPSetup, IIS W3C),
which emits ``Record`` objects. Parsers are incremental so the shipper can frame a growing file with
the same code the offline tools use.
"""

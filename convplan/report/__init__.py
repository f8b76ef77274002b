"""Reports: functions that turn analyses into text (JSON, tables, Markdown, HTML) and pictures.
They return text and never print."""

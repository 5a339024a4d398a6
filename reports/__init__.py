"""The council's formal reports drawn for people: HTML pages (Jinja2 templates in
reports/templates, kept apart from the Adaptive Card templates in cards/templates), xlsx
workbooks and CSV files. The figures come from domain/board.py; nothing here reads the
database or knows Teams."""

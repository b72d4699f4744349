"""The database: SQLModel tables, engine and sessions, migrations, queries shared by several areas."""

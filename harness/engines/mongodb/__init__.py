"""The MongoDB adapter (pymongo, also serving FerretDB): query documents built apart in statements.py."""

def register_import_views(appbuilder) -> None:
    return None

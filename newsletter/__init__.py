import django_stubs_ext

# Lets admin, form and feed classes be subscripted for the type checker at runtime
# (admin.ModelAdmin[Source]); Django itself makes only QuerySet and Manager generic.
# This package holds the settings, so the patch runs before any of those classes is used.
django_stubs_ext.monkeypatch()

# Placeholder: owned by the demo helper.
app_name = "demo"
urlpatterns = []

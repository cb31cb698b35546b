from django import forms

from newsletter.models import Subscriber


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email address")
    name = forms.CharField(
        max_length=Subscriber._meta.get_field("name").max_length,
        required=False,
        label="Name (optional)",
    )
    # A honeypot: hidden from people by the template, filled in by naive bots.
    website = forms.CharField(required=False, label="Leave this empty")

    def is_bot(self) -> bool:
        return bool(self.cleaned_data.get("website"))

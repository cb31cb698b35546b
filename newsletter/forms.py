from typing import Any, cast
from zoneinfo import available_timezones

from django import forms

from newsletter.models import Subscriber
from topics.models import TopicCategory


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


def time_zone_choices() -> list[tuple[str, str]]:
    return [("", "The site's time zone")] + [(z, z) for z in sorted(available_timezones())]


class PreferencesForm(forms.ModelForm[Subscriber]):
    """What a reader may change from the link in every email; no password needed."""

    categories = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked means every category.",
    )
    min_importance = forms.TypedChoiceField(
        coerce=int,
        choices=[(n, f"{n} and up") for n in range(1, 6)],
        label="Minimum importance",
    )
    max_topics = forms.IntegerField(min_value=1, max_value=20, label="Number of stories")
    delivery_hour = forms.TypedChoiceField(
        coerce=int,
        empty_value=None,
        required=False,
        choices=[("", "As soon as it is ready")] + [(h, f"{h:02d}:00") for h in range(24)],
        label="Delivery time",
    )
    time_zone = forms.ChoiceField(required=False, choices=time_zone_choices, label="Time zone")

    class Meta:
        model = Subscriber
        fields = ["categories", "min_importance", "max_topics", "delivery_hour", "time_zone"]
        fields += ["paused"]
        labels = {"paused": "Pause the digest (stay subscribed, get nothing until unpaused)"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = cast(forms.MultipleChoiceField, self.fields["categories"])
        categories.choices = [
            (category.slug, category.name) for category in TopicCategory.objects.all()
        ]

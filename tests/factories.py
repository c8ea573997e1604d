import factory

from apps.crm.models import CustomField, Subscriber
from apps.tags.models import Tag
from apps.tags.services import tag_name_key


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscriber

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Faker("first_name")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"Tag {n}")
    name_key = factory.LazyAttribute(lambda o: tag_name_key(o.name))


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField

    label = factory.Sequence(lambda n: f"Field {n}")
    key = factory.Sequence(lambda n: f"field_{n}")

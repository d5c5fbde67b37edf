from enum import IntEnum


class ConfigResourceType(IntEnum):
    """Kafka's config resource types."""

    BROKER = 4
    TOPIC = 2


class ConfigResource(object):
    """A topic (or broker) whose configs to describe or alter."""

    def __init__(self, resource_type, name, configs=None):
        if not isinstance(resource_type, ConfigResourceType):
            resource_type = ConfigResourceType[str(resource_type).upper()]
        self.resource_type = resource_type
        self.name = name
        self.configs = configs

    def __repr__(self):
        return "ConfigResource %s=%s" % (self.resource_type, self.name)

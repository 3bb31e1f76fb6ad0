"""Tortoise models, one module per domain. MODEL_MODULES is the list Tortoise and aerich load."""

MODEL_MODULES: list[str] = [
    "models.guilds",
    "models.moderation",
    "models.economy",
    "models.levels",
    "models.tickets",
    "models.giveaways",
    "models.security",
    "models.scheduling",
    "models.attachments",
    "models.rolemenus",
    "models.raids",
    "models.automod",
    "models.web",
    "models.stats",
    "models.notices",
]

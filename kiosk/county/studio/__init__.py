"""The county's content studio: forms, drafts, review and history of the county's content folder."""

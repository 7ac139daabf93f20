"""Registration's domain: seasons, unit registrations, recommending units and judges, with their rules.

Every rule refuses with a RuleViolation naming the field, a rule id and a plain message;
the rule ids are listed in services/registration/README.md.
"""

"""The policy pack: `pulumi preview --policy-pack policy` runs it beside the program."""

from policies import POLICIES  # type: ignore[import-not-found]  # the analyzer runs this directory as a script
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name="image-registry", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)

"""nbgrader's configuration for this course; every nbgrader command run in this folder reads it.

The course folder is this checkout: assignments go to source/<assignment>/, nbgrader writes release/,
submitted/, autograded/, feedback/ and gradebook.db beside them (all git-ignored). README, "Grading with
nbgrader", has the whole workflow.
"""
import os

# Strict checks in every kernel nbgrader starts (autograde and validate): a check that does not pass raises,
# so its grade cell scores 0. The checks also turn strict on by themselves under nbgrader when COURSE_STRICT
# is unset; setting it here keeps that true for a kernel started some other way.
os.environ["COURSE_STRICT"] = "1"

c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.course_id = "from-one-hot-to-gpt"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.Execute.timeout = 900          # seconds per cell: a chapter trains for up to a minute on a fast CPU

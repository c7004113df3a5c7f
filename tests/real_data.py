"""What ../shared/data holds, counted once: tests that scan the whole folder compare with these
numbers, so adding a recording to shared/ means changing this file, not a dozen tests.

23 recordings: 13 rosbag2 bags (11 ros2/rosbag2 test bags, the iiwa, and the underwater robot's
two), 7 ROS 1 files (5 rosbag.js fixtures, the Husky, the Baxter) and 3 LeRobot datasets
(G1 100 episodes, SO-101 6, Reachy 2 3). Two of them cannot be read (empty-file.bag,
wrong_format_mcap) and are rows with their error.
"""

RECORDINGS = 23
EPISODES_INDEXED = 127  # episodes that index (each LeRobot episode is one)
UNREADABLE = 2  # empty-file.bag, wrong_format_mcap: failed rows with the reason
ROWS = EPISODES_INDEXED + UNREADABLE
LEROBOT_EPISODES = 100 + 6 + 3
ROS1_NAMES = (
    "example",
    "example-lz4",
    "example-unsorted-chunks",
    "no-messages",
    "empty-file",
    "test1",  # husky_localization/test1.bag
    "data",  # baxter_endpoint/data.bag
)

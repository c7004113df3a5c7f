"""ROS 1 and ROS 2 bags (sqlite3, MCAP): ``reader`` (the registry entry), ``source`` (planning and
reading a bag), ``bagfile`` (one opened container), ``first_times``, ``topics``, ``flatten``,
``typestore``, ``lazy_serde``, ``images``, ``urdf``, ``plan_cache``, ``fast_yaml``."""

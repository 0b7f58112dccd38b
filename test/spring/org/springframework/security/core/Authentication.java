package org.springframework.security.core;

public interface Authentication extends java.io.Serializable {
  String getName();
}

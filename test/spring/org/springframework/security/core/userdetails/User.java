package org.springframework.security.core.userdetails;

import java.io.Serializable;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.Set;
import java.util.TreeSet;
import org.springframework.security.core.GrantedAuthority;

public class User implements Serializable {
  private static final long serialVersionUID = 620L;
  private String password;
  private final String username;
  private final Set<GrantedAuthority> authorities;
  private final boolean accountNonExpired;
  private final boolean accountNonLocked;
  private final boolean credentialsNonExpired;
  private final boolean enabled;

  public User(String username, String password, Collection<? extends GrantedAuthority> authorities) {
    this.username = username;
    this.password = password;
    this.accountNonExpired = true;
    this.accountNonLocked = true;
    this.credentialsNonExpired = true;
    this.enabled = true;
    TreeSet<GrantedAuthority> sorted = new TreeSet<>(new AuthorityComparator());
    sorted.addAll(authorities);
    this.authorities = Collections.unmodifiableSet(sorted);
  }

  public String getUsername() {
    return this.username;
  }

  public Set<GrantedAuthority> getAuthorities() {
    return this.authorities;
  }

  public void eraseCredentials() {
    this.password = null;
  }

  private static class AuthorityComparator implements Comparator<GrantedAuthority>, Serializable {
    private static final long serialVersionUID = 620L;

    public int compare(GrantedAuthority g1, GrantedAuthority g2) {
      return g1.getAuthority().compareTo(g2.getAuthority());
    }
  }
}
